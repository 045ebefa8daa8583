export {
  buildLinearModel,
  evaluateLinear,
  INPUT_NAME,
  type LinearModelSpec,
  ONNX_IR_VERSION,
  ONNX_OPSET,
  outputNameOf,
} from './linear-model.ts';
export {
  buildTreeEnsembleModel,
  type EnsembleTree,
  ML_DOMAIN,
  ML_OPSET,
  type TreeEnsembleSpec,
  treeEnsembleOutputName,
} from './tree-ensemble.ts';
