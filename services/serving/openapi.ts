import type { ServingLimits } from './requests.ts';

/**
 * The OpenAPI 3.1 document served at GET /openapi.json: written by hand, next to the validation it
 * describes (requests.ts); the integration test checks that both paths are in it.
 */
const error = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', examples: ['FW_BAD_REQUEST'] },
        message: { type: 'string' },
        details: { type: 'object', additionalProperties: true },
      },
    },
  },
};

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

const errors = {
  '400': errorResponse('FW_BAD_REQUEST: malformed JSON or body; `details.reasons` lists every problem.'),
  '413': errorResponse('FW_BATCH_TOO_LARGE (too many entities) or FW_PAYLOAD_TOO_LARGE (body too big).'),
  '503': {
    ...errorResponse('FW_REDIS_UNAVAILABLE: the online store did not answer; retry.'),
    headers: { 'Retry-After': { schema: { type: 'integer' } } },
  },
};

const requestId = {
  name: 'x-request-id',
  in: 'header',
  required: false,
  description: 'Echoed as request_id (1-128 of [A-Za-z0-9._:-]); generated when absent.',
  schema: { type: 'string' },
};

export function openApiDocument(limits: ServingLimits) {
  const entities = {
    type: 'array',
    minItems: 1,
    maxItems: limits.maxEntities,
    items: { type: 'string', minLength: 1, maxLength: limits.maxEntityLength },
  };
  const nullableNumber = { type: ['number', 'null'] };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Flywheel serving API',
      version: '1',
      description: 'Online feature vectors and ONNX predictions. See docs/serving.md.',
    },
    paths: {
      '/v1/features': {
        post: {
          summary: 'Feature vectors of entities, per feature view, from the online store',
          parameters: [requestId],
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['entities'],
                  additionalProperties: false,
                  properties: {
                    entities,
                    views: {
                      type: 'array',
                      minItems: 1,
                      items: { type: 'string' },
                      description: 'View names (newest version) or ids (`account_stats:v1`); default all.',
                    },
                    featureService: { type: 'string', description: 'A named group of views.' },
                  },
                },
              },
            },
          },
          responses: {
            '200': {
              description: 'One entry per entity (in request order), one per view.',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/FeaturesResponse' } } },
            },
            ...errors,
            '404': errorResponse('FW_NOT_FOUND: unknown view or feature service.'),
          },
        },
      },
      '/v1/predict/{model}': {
        post: {
          summary: "Predictions of the model's champion version for entities",
          parameters: [{ name: 'model', in: 'path', required: true, schema: { type: 'string' } }, requestId],
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  oneOf: [
                    {
                      type: 'object',
                      required: ['entities'],
                      additionalProperties: false,
                      properties: { entities },
                    },
                    {
                      type: 'object',
                      required: ['entity'],
                      additionalProperties: false,
                      properties: { entity: { type: 'string', minLength: 1 } },
                    },
                  ],
                },
              },
            },
          },
          responses: {
            '200': {
              description: 'One prediction per entity, in request order.',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/PredictResponse' } } },
            },
            ...errors,
            '404': errorResponse('FW_NOT_FOUND: unknown model, or no champion version.'),
          },
        },
      },
    },
    components: {
      schemas: {
        Error: error,
        FeaturesResponse: {
          type: 'object',
          required: ['request_id', 'entities'],
          properties: {
            request_id: { type: 'string' },
            entities: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  entity: { type: 'string' },
                  views: {
                    type: 'array',
                    items: {
                      type: 'object',
                      properties: {
                        view: { type: 'string', examples: ['account_stats:v1'] },
                        status: { enum: ['ok', 'missing', 'expired'] },
                        freshness_ms: nullableNumber,
                        features: {
                          type: 'object',
                          description:
                            'Value per feature; null when missing, expired or no events in window.',
                          additionalProperties: {
                            type: ['number', 'string', 'array', 'null'],
                            items: { type: 'number' },
                          },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        },
        PredictResponse: {
          type: 'object',
          required: ['model', 'version', 'predictions', 'request_id'],
          properties: {
            model: { type: 'string' },
            version: { type: 'integer' },
            request_id: { type: 'string' },
            predictions: {
              type: 'array',
              items: {
                type: 'object',
                required: ['entity', 'features', 'missing', 'freshness_ms'],
                properties: {
                  entity: { type: 'string' },
                  probability: { type: 'number', description: 'Models whose output is `probability` [N,1].' },
                  output: { type: 'array', items: { type: 'number' }, description: 'Any other model.' },
                  features: {
                    type: 'object',
                    additionalProperties: nullableNumber,
                    description: 'The inputs used; null where imputed with 0.',
                  },
                  missing: {
                    type: 'array',
                    items: { type: 'string' },
                    description: 'Inputs imputed with 0.',
                  },
                  freshness_ms: {
                    type: 'object',
                    additionalProperties: nullableNumber,
                    description: 'Per view id: ms since its newest event.',
                  },
                },
              },
            },
          },
        },
      },
    },
  };
}
