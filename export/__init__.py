"""export: ONNX export of trained generators and onnxruntime sampling."""
