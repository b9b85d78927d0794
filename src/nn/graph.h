// The network IR: a static-shape dataflow graph of float32 NHWC tensors.
//
// Both model kinds end up here: TF.js graph models are translated node by node
// (tfjs_graph_model.cpp), weight-only face-api nets are declared in code with the same methods.
// The executor (xnn_executor.cpp) then lowers the graph to XNNPACK subgraphs, with the few ops
// the 2022 XNNPACK lacks (concatenation, reductions) run as small CPU steps between them.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace idm::nn {

using Shape = std::vector<int64_t>;
int64_t NumElements(const Shape& shape);
std::string ShapeToString(const Shape& shape);

enum class Op {
  kConv2D,           // inputs: x, filter HWIO, [bias]
  kDepthwiseConv2D,  // inputs: x, filter HWIM, [bias]
  kFullyConnected,   // inputs: x [.., in], weights [in, out], [bias]
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMaximum,
  kMinimum,  // broadcasting binary ops
  kClamp,    // attrs.out_min/out_max (ReLU, ReLU6, Minimum/Maximum with a constant)
  kPRelu,    // inputs: x, slope [C]
  kSigmoid,
  kSoftmax,
  kAbs,
  kSquare,
  kNegate,
  kMaxPool2D,
  kAvgPool2D,
  kGlobalAvgPool2D,  // mean over H and W, output [N,1,1,C]
  kPad,              // constant padding, attrs.pre_pad/post_pad per dim
  kReshape,          // attrs.new_shape (fully specified)
  kConcat,           // attrs.axis  (CPU step: not in Debian's XNNPACK)
  kReduceSum,        // attrs.axes, attrs.keep_dims (CPU step)
  kRsqrt,            // (CPU step)
  kResizeBilinear,   // attrs.resize_h/resize_w, align_corners, half_pixel_centers (TF semantics)
  kDeconv2D,         // transposed convolution; inputs: x, filter [H,W,out,in] (TF's
                     // Conv2DBackpropInput layout), [bias]; attrs.stride/pad/adjust
};
const char* OpName(Op op);

struct Padding2D {
  int top = 0, right = 0, bottom = 0, left = 0;
};
enum class PadMode { kSame, kValid, kExplicit };

struct NodeAttrs {
  // Convolution and pooling.
  int kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  Padding2D pad;
  // Fused activation range.
  float out_min = -std::numeric_limits<float>::infinity();
  float out_max = std::numeric_limits<float>::infinity();
  // Shape ops.
  Shape new_shape;
  std::vector<int64_t> pre_pad, post_pad;
  float pad_value = 0.f;
  int axis = 0;
  std::vector<int> axes;
  bool keep_dims = false;
  // Resize.
  int resize_h = 0, resize_w = 0;
  bool align_corners = false, half_pixel_centers = false;
  // Transposed convolution: output rows added after the padded-away ones so the output reaches
  // the size TF asked for (0 <= adjust < stride).
  int adjust_h = 0, adjust_w = 0;
};

struct Value {
  std::string name;
  Shape shape;
  int producer = -1;     // node index, -1 for inputs and constants
  int const_index = -1;  // index into Graph::constants, -1 if not constant
  bool is_input = false;
};

struct Node {
  Op op;
  std::string name;         // source node name, for errors
  std::vector<int> inputs;  // value ids
  int output = -1;          // value id
  NodeAttrs attrs;
  bool removed = false;  // folded away by a rewrite
};

class Graph {
 public:
  int AddInput(const std::string& name, const Shape& shape);
  int AddConstant(const std::string& name, const Shape& shape, std::vector<float> data);
  // Adds a node, infers its output shape (throws idm::Error naming the node on a mismatch).
  int AddNode(Op op, const std::string& name, std::vector<int> inputs, NodeAttrs attrs = {});
  void AddOutput(int value, const std::string& name);

  // Builder helpers for code-declared nets (face-api). Weights are in TF layouts.
  int Conv2D(const std::string& name, int x, int filter_hwio, int bias, int stride, PadMode mode,
             float out_min = -std::numeric_limits<float>::infinity(),
             float out_max = std::numeric_limits<float>::infinity());
  int DepthwiseConv2D(const std::string& name, int x, int filter_hwim, int bias, int stride, PadMode mode,
                      float out_min = -std::numeric_limits<float>::infinity(),
                      float out_max = std::numeric_limits<float>::infinity());
  int Pool2D(Op op, const std::string& name, int x, int kernel, int stride, PadMode mode);

  // Rewrites that make the graph smaller without changing its result: PReLU spelled as
  // elementwise ops -> kPRelu, ReLU/ReLU6/Minimum/Maximum with constants -> kClamp, and clamps
  // fused into the op that produces their input.
  void Simplify();

  const std::vector<Value>& values() const { return values_; }
  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<std::vector<float>>& constants() const { return constants_; }
  const std::vector<int>& inputs() const { return inputs_; }
  const std::vector<int>& outputs() const { return outputs_; }
  const std::vector<std::string>& output_names() const { return output_names_; }
  bool IsConstant(int value) const { return values_[value].const_index >= 0; }
  const std::vector<float>& ConstantData(int value) const { return constants_[values_[value].const_index]; }

  // Computes the explicit padding TF's SAME/VALID rules give for one spatial dimension.
  static void TfPadding(PadMode mode, int64_t in, int k, int stride, int dilation, int* before, int* after);

 private:
  Shape InferShape(const Node& node) const;
  std::vector<int> Consumers(int value) const;
  bool IsScalarConstant(int value, float* v) const;
  void FoldPRelu();
  void FoldClamps();

  std::vector<Value> values_;
  std::vector<Node> nodes_;
  std::vector<std::vector<float>> constants_;
  std::vector<int> inputs_, outputs_;
  std::vector<std::string> output_names_;
};

}  // namespace idm::nn
