export {
  buildLinearModel,
  evaluateLinear,
  INPUT_NAME,
  type LinearModelSpec,
  ONNX_IR_VERSION,
  ONNX_OPSET,
  outputNameOf,
} from './linear-model.ts';
