#include "nn/graph.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.h"

namespace idm::nn {

int64_t NumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    // Saturates instead of overflowing: shapes come from model files, which may be hostile.
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return std::numeric_limits<int64_t>::max();
  }
  return n;
}

std::string ShapeToString(const Shape& shape) {
  std::ostringstream s;
  s << '[';
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? "," : "") << shape[i];
  s << ']';
  return s.str();
}

const char* OpName(Op op) {
  switch (op) {
    case Op::kConv2D:
      return "Conv2D";
    case Op::kDepthwiseConv2D:
      return "DepthwiseConv2D";
    case Op::kFullyConnected:
      return "FullyConnected";
    case Op::kAdd:
      return "Add";
    case Op::kSub:
      return "Sub";
    case Op::kMul:
      return "Mul";
    case Op::kDiv:
      return "Div";
    case Op::kMaximum:
      return "Maximum";
    case Op::kMinimum:
      return "Minimum";
    case Op::kClamp:
      return "Clamp";
    case Op::kPRelu:
      return "PRelu";
    case Op::kSigmoid:
      return "Sigmoid";
    case Op::kSoftmax:
      return "Softmax";
    case Op::kAbs:
      return "Abs";
    case Op::kSquare:
      return "Square";
    case Op::kNegate:
      return "Negate";
    case Op::kMaxPool2D:
      return "MaxPool2D";
    case Op::kAvgPool2D:
      return "AvgPool2D";
    case Op::kGlobalAvgPool2D:
      return "GlobalAvgPool2D";
    case Op::kPad:
      return "Pad";
    case Op::kReshape:
      return "Reshape";
    case Op::kConcat:
      return "Concat";
    case Op::kReduceSum:
      return "ReduceSum";
    case Op::kRsqrt:
      return "Rsqrt";
    case Op::kResizeBilinear:
      return "ResizeBilinear";
    case Op::kDeconv2D:
      return "Deconv2D";
  }
  return "?";
}

namespace {

[[noreturn]] void Fail(const Node& node, const std::string& what) {
  throw Error(ErrorCode::kModelFormat, "node '" + node.name + "' (" + OpName(node.op) + "): " + what);
}

bool IsBinary(Op op) {
  return op == Op::kAdd || op == Op::kSub || op == Op::kMul || op == Op::kDiv || op == Op::kMaximum ||
         op == Op::kMinimum;
}

}  // namespace

void Graph::TfPadding(PadMode mode, int64_t in, int k, int stride, int dilation, int* before, int* after) {
  const int64_t eff = static_cast<int64_t>(k - 1) * dilation + 1;
  if (mode != PadMode::kSame) {
    *before = *after = 0;
    return;
  }
  const int64_t out = (in + stride - 1) / stride;
  const int64_t total = std::max<int64_t>((out - 1) * stride + eff - in, 0);
  *before = static_cast<int>(total / 2);
  *after = static_cast<int>(total - total / 2);
}

namespace {
// A model file is input like any other: refuse shapes that would overflow or exhaust memory.
void CheckShape(const std::string& name, const Shape& shape) {
  constexpr int64_t kMaxDim = int64_t{1} << 24, kMaxElements = int64_t{1} << 28;
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || d > kMaxDim)
      throw Error(ErrorCode::kModelFormat, "'" + name + "': dimension " + std::to_string(d) + " out of range");
    n *= d;
    if (n > kMaxElements)
      throw Error(ErrorCode::kModelFormat, "'" + name + "': tensor too large " + ShapeToString(shape));
  }
}
}  // namespace

int Graph::AddInput(const std::string& name, const Shape& shape) {
  CheckShape(name, shape);
  Value v;
  v.name = name;
  v.shape = shape;
  v.is_input = true;
  values_.push_back(v);
  inputs_.push_back(static_cast<int>(values_.size()) - 1);
  return inputs_.back();
}

int Graph::AddConstant(const std::string& name, const Shape& shape, std::vector<float> data) {
  if (NumElements(shape) != static_cast<int64_t>(data.size())) {
    throw Error(ErrorCode::kModelFormat, "constant '" + name + "': shape " + ShapeToString(shape) + " does not hold " +
                                             std::to_string(data.size()) + " values");
  }
  constants_.push_back(std::move(data));
  Value v;
  v.name = name;
  v.shape = shape;
  v.const_index = static_cast<int>(constants_.size()) - 1;
  values_.push_back(v);
  return static_cast<int>(values_.size()) - 1;
}

void Graph::AddOutput(int value, const std::string& name) {
  outputs_.push_back(value);
  output_names_.push_back(name);
}

Shape Graph::InferShape(const Node& n) const {
  auto in = [&](size_t i) -> const Shape& {
    if (i >= n.inputs.size()) Fail(n, "missing input " + std::to_string(i));
    return values_[n.inputs[i]].shape;
  };
  const NodeAttrs& a = n.attrs;
  auto spatial = [&](int64_t size, int k, int s, int d, int pb, int pa) {
    if (k < 1 || s < 1 || d < 1 || pb < 0 || pa < 0 || k > 4096 || s > 4096 || d > 4096 || pb > 4096 || pa > 4096) {
      Fail(n, "kernel, stride, dilation or padding out of range");
    }
    const int64_t eff = static_cast<int64_t>(k - 1) * d + 1;
    const int64_t padded = size + pb + pa;
    if (padded < eff) Fail(n, "window larger than padded input");
    return (padded - eff) / s + 1;
  };
  switch (n.op) {
    case Op::kConv2D:
    case Op::kDepthwiseConv2D: {
      const Shape& x = in(0);
      const Shape& f = in(1);
      if (x.size() != 4 || f.size() != 4)
        Fail(n, "expects 4-D input and filter, got " + ShapeToString(x) + " and " + ShapeToString(f));
      if (f[2] != x[3]) Fail(n, "filter " + ShapeToString(f) + " does not match input channels " + ShapeToString(x));
      const int64_t out_c = n.op == Op::kConv2D ? f[3] : f[2] * f[3];
      if (n.inputs.size() > 2 && NumElements(in(2)) != out_c) Fail(n, "bias size does not match output channels");
      return {x[0], spatial(x[1], a.kernel_h, a.stride_h, a.dilation_h, a.pad.top, a.pad.bottom),
              spatial(x[2], a.kernel_w, a.stride_w, a.dilation_w, a.pad.left, a.pad.right), out_c};
    }
    case Op::kFullyConnected: {
      Shape x = in(0);
      const Shape& w = in(1);
      if (x.empty() || w.size() != 2 || x.back() != w[0])
        Fail(n, "input " + ShapeToString(x) + " does not match weights " + ShapeToString(w));
      x.back() = w[1];
      return x;
    }
    case Op::kAdd:
    case Op::kSub:
    case Op::kMul:
    case Op::kDiv:
    case Op::kMaximum:
    case Op::kMinimum: {
      const Shape& x = in(0);
      const Shape& y = in(1);
      const size_t r = std::max(x.size(), y.size());
      Shape out(r);
      for (size_t i = 0; i < r; ++i) {
        const int64_t dx = i < r - x.size() ? 1 : x[i - (r - x.size())];
        const int64_t dy = i < r - y.size() ? 1 : y[i - (r - y.size())];
        if (dx != dy && dx != 1 && dy != 1)
          Fail(n, "cannot broadcast " + ShapeToString(x) + " with " + ShapeToString(y));
        out[i] = std::max(dx, dy);
      }
      return out;
    }
    case Op::kPRelu:
      if (in(0).empty() || NumElements(in(1)) != in(0).back()) Fail(n, "slope must have one value per channel");
      return in(0);
    case Op::kClamp:
    case Op::kSigmoid:
    case Op::kSoftmax:
    case Op::kAbs:
    case Op::kSquare:
    case Op::kNegate:
    case Op::kRsqrt:
      return in(0);
    case Op::kMaxPool2D:
    case Op::kAvgPool2D: {
      const Shape& x = in(0);
      if (x.size() != 4) Fail(n, "expects a 4-D input");
      return {x[0], spatial(x[1], a.kernel_h, a.stride_h, 1, a.pad.top, a.pad.bottom),
              spatial(x[2], a.kernel_w, a.stride_w, 1, a.pad.left, a.pad.right), x[3]};
    }
    case Op::kGlobalAvgPool2D: {
      const Shape& x = in(0);
      if (x.size() != 4) Fail(n, "expects a 4-D input");
      return {x[0], 1, 1, x[3]};
    }
    case Op::kPad: {
      Shape x = in(0);
      if (a.pre_pad.size() != x.size() || a.post_pad.size() != x.size()) Fail(n, "padding rank mismatch");
      for (size_t i = 0; i < x.size(); ++i) {
        if (a.pre_pad[i] < 0 || a.post_pad[i] < 0) Fail(n, "negative padding");
        x[i] += a.pre_pad[i] + a.post_pad[i];
      }
      return x;
    }
    case Op::kReshape:
      for (int64_t d : a.new_shape) {
        if (d < 0 || d > (int64_t{1} << 28)) Fail(n, "bad reshape dimension");
      }
      if (NumElements(a.new_shape) != NumElements(in(0)))
        Fail(n, "cannot reshape " + ShapeToString(in(0)) + " to " + ShapeToString(a.new_shape));
      return a.new_shape;
    case Op::kConcat: {
      Shape out = in(0);
      const int axis = a.axis < 0 ? a.axis + static_cast<int>(out.size()) : a.axis;
      if (axis < 0 || axis >= static_cast<int>(out.size())) Fail(n, "axis out of range");
      for (size_t i = 1; i < n.inputs.size(); ++i) {
        const Shape& s = in(i);
        if (s.size() != out.size()) Fail(n, "rank mismatch");
        for (size_t d = 0; d < s.size(); ++d) {
          if (static_cast<int>(d) == axis)
            out[d] += s[d];
          else if (s[d] != out[d])
            Fail(n, "shape mismatch " + ShapeToString(s));
        }
      }
      return out;
    }
    case Op::kResizeBilinear: {
      const Shape& x = in(0);
      if (x.size() != 4) Fail(n, "expects a 4-D input");
      if (a.resize_h < 1 || a.resize_w < 1 || a.resize_h > 16384 || a.resize_w > 16384)
        Fail(n, "output size out of range");
      if (a.align_corners && a.half_pixel_centers) Fail(n, "align_corners and half_pixel_centers are exclusive");
      return {x[0], a.resize_h, a.resize_w, x[3]};
    }
    case Op::kDeconv2D: {
      const Shape& x = in(0);
      const Shape& f = in(1);
      if (x.size() != 4 || f.size() != 4)
        Fail(n, "expects 4-D input and filter, got " + ShapeToString(x) + " and " + ShapeToString(f));
      if (f[3] != x[3]) Fail(n, "filter " + ShapeToString(f) + " does not match input channels " + ShapeToString(x));
      if (n.inputs.size() > 2 && NumElements(in(2)) != f[2]) Fail(n, "bias size does not match output channels");
      auto size = [&](int64_t i, int k, int s, int pb, int pa, int adj) {
        if (k < 1 || s < 1 || pb < 0 || pa < 0 || adj < 0 || adj >= s || k > 4096 || s > 4096 || pb > 4096 ||
            pa > 4096) {
          Fail(n, "kernel, stride, padding or adjustment out of range");
        }
        const int64_t o = (i - 1) * s + k - pb - pa + adj;
        if (i < 1 || o < 1) Fail(n, "empty output");
        return o;
      };
      return {x[0], size(x[1], a.kernel_h, a.stride_h, a.pad.top, a.pad.bottom, a.adjust_h),
              size(x[2], a.kernel_w, a.stride_w, a.pad.left, a.pad.right, a.adjust_w), f[2]};
    }
    case Op::kReduceSum: {
      const Shape& x = in(0);
      Shape out;
      for (size_t d = 0; d < x.size(); ++d) {
        const bool reduced = std::count(a.axes.begin(), a.axes.end(), static_cast<int>(d)) > 0;
        if (!reduced)
          out.push_back(x[d]);
        else if (a.keep_dims)
          out.push_back(1);
      }
      return out;
    }
  }
  Fail(n, "unknown op");
}

int Graph::AddNode(Op op, const std::string& name, std::vector<int> inputs, NodeAttrs attrs) {
  Node node;
  node.op = op;
  node.name = name;
  node.inputs = std::move(inputs);
  node.attrs = std::move(attrs);
  for (int v : node.inputs) {
    if (v < 0 || v >= static_cast<int>(values_.size())) Fail(node, "input value id out of range");
  }
  if (op == Op::kConv2D || op == Op::kDepthwiseConv2D || op == Op::kDeconv2D) {
    const Shape& f = values_[node.inputs.at(1)].shape;
    if (f.size() == 4) {
      node.attrs.kernel_h = static_cast<int>(f[0]);
      node.attrs.kernel_w = static_cast<int>(f[1]);
    }
  }
  Value out;
  out.name = name;
  out.shape = InferShape(node);
  CheckShape(name, out.shape);
  out.producer = static_cast<int>(nodes_.size());
  values_.push_back(out);
  node.output = static_cast<int>(values_.size()) - 1;
  nodes_.push_back(std::move(node));
  return nodes_.back().output;
}

namespace {

// Conv2D and DepthwiseConv2D share their attributes and TF padding rule; only the op differs.
NodeAttrs ConvAttrs(const Shape& xs, const Shape& fs, int stride, PadMode mode, float out_min, float out_max) {
  NodeAttrs a;
  a.stride_h = a.stride_w = stride;
  if (xs.size() == 4 && fs.size() == 4) {
    Graph::TfPadding(mode, xs[1], static_cast<int>(fs[0]), stride, 1, &a.pad.top, &a.pad.bottom);
    Graph::TfPadding(mode, xs[2], static_cast<int>(fs[1]), stride, 1, &a.pad.left, &a.pad.right);
  }
  a.out_min = out_min;
  a.out_max = out_max;
  return a;
}

}  // namespace

int Graph::Conv2D(const std::string& name, int x, int filter, int bias, int stride, PadMode mode, float out_min,
                  float out_max) {
  std::vector<int> in = {x, filter};
  if (bias >= 0) in.push_back(bias);
  return AddNode(Op::kConv2D, name, in,
                 ConvAttrs(values_.at(x).shape, values_.at(filter).shape, stride, mode, out_min, out_max));
}

int Graph::DepthwiseConv2D(const std::string& name, int x, int filter, int bias, int stride, PadMode mode,
                           float out_min, float out_max) {
  // Added directly as a depthwise node: going through Conv2D would shape-check a depthwise bias
  // ([I*M]) against a regular conv's output channels (HWIM's M) and reject it.
  std::vector<int> in = {x, filter};
  if (bias >= 0) in.push_back(bias);
  return AddNode(Op::kDepthwiseConv2D, name, in,
                 ConvAttrs(values_.at(x).shape, values_.at(filter).shape, stride, mode, out_min, out_max));
}

int Graph::Pool2D(Op op, const std::string& name, int x, int kernel, int stride, PadMode mode) {
  NodeAttrs a;
  a.kernel_h = a.kernel_w = kernel;
  a.stride_h = a.stride_w = stride;
  const Shape& xs = values_.at(x).shape;
  if (xs.size() == 4) {
    TfPadding(mode, xs[1], kernel, stride, 1, &a.pad.top, &a.pad.bottom);
    TfPadding(mode, xs[2], kernel, stride, 1, &a.pad.left, &a.pad.right);
  }
  return AddNode(op, name, {x}, a);
}

std::vector<int> Graph::Consumers(int value) const {
  std::vector<int> users;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].removed) continue;
    for (int in : nodes_[i].inputs) {
      if (in == value) {
        users.push_back(static_cast<int>(i));
        break;
      }
    }
  }
  return users;
}

bool Graph::IsScalarConstant(int value, float* v) const {
  if (!IsConstant(value)) return false;
  const std::vector<float>& d = ConstantData(value);
  if (d.empty() || std::any_of(d.begin(), d.end(), [&](float x) { return x != d[0]; })) return false;
  *v = d[0];
  return true;
}

void Graph::Simplify() {
  FoldPRelu();
  FoldClamps();
}

// PReLU reaches us spelled out in two ways:
//   relu(x) + c * (x - |x|)      (or x + c * (x - |x|))   -> slope 2c   (or 1 + 2c)
//   max(x, 0) + c * min(x, 0)                             -> slope c
void Graph::FoldPRelu() {
  auto producer = [&](int v, Op op) -> Node* {
    const int p = values_[v].producer;
    if (p < 0 || nodes_[p].removed || nodes_[p].op != op) return nullptr;
    return &nodes_[p];
  };
  auto only_used_by = [&](int v, std::initializer_list<const Node*> allowed) {
    if (std::find(outputs_.begin(), outputs_.end(), v) != outputs_.end()) return false;
    for (int u : Consumers(v)) {
      if (std::find(allowed.begin(), allowed.end(), &nodes_[u]) == allowed.end()) return false;
    }
    return true;
  };
  auto split_const = [&](const Node& n, int* var, int* cst) {
    if (IsConstant(n.inputs[1]) && !IsConstant(n.inputs[0])) {
      *var = n.inputs[0];
      *cst = n.inputs[1];
      return true;
    }
    if (IsConstant(n.inputs[0]) && !IsConstant(n.inputs[1])) {
      *var = n.inputs[1];
      *cst = n.inputs[0];
      return true;
    }
    return false;
  };
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Node& add = nodes_[i];
    if (add.removed || add.op != Op::kAdd) continue;
    for (int side = 0; side < 2; ++side) {
      const int pos_v = add.inputs[side], neg_v = add.inputs[1 - side];
      Node* mul = producer(neg_v, Op::kMul);
      int mul_var = -1, c = -1;
      if (mul == nullptr || !split_const(*mul, &mul_var, &c)) continue;
      int x = -1;
      float extra = 0.f, scale = 1.f;
      std::vector<const Node*> dead = {mul};
      if (Node* sub = producer(mul_var, Op::kSub)) {  // form 1
        Node* abs = producer(sub->inputs[1], Op::kAbs);
        if (abs == nullptr || abs->inputs[0] != sub->inputs[0]) continue;
        x = sub->inputs[0];
        if (pos_v == x) {
          extra = 1.f;
        } else if (Node* relu = producer(pos_v, Op::kClamp); relu != nullptr && relu->inputs[0] == x &&
                                                             relu->attrs.out_min == 0.f &&
                                                             std::isinf(relu->attrs.out_max)) {
          if (only_used_by(relu->output, {&add})) dead.push_back(relu);  // else it stays for its other readers
        } else {
          continue;
        }
        scale = 2.f;
        dead.push_back(sub);
        dead.push_back(abs);
        if (!only_used_by(sub->output, {mul}) || !only_used_by(abs->output, {sub})) continue;
      } else if (Node* mn = producer(mul_var, Op::kMinimum)) {  // form 2
        Node* mx = producer(pos_v, Op::kMaximum);
        int xa = -1, ca = -1, xb = -1, cb = -1;
        float za = 1, zb = 1;
        if (mx == nullptr || !split_const(*mn, &xa, &ca) || !split_const(*mx, &xb, &cb) || xa != xb) continue;
        if (!IsScalarConstant(ca, &za) || !IsScalarConstant(cb, &zb) || za != 0.f || zb != 0.f) continue;
        x = xa;
        dead.push_back(mn);
        dead.push_back(mx);
        if (!only_used_by(mn->output, {mul}) || !only_used_by(mx->output, {&add})) continue;
      } else {
        continue;
      }
      if (!only_used_by(mul->output, {&add})) continue;
      const Shape& xs = values_[x].shape;
      const int64_t channels = xs.empty() ? 1 : xs.back();
      const std::vector<float>& cd = ConstantData(c);
      if (static_cast<int64_t>(cd.size()) != channels && cd.size() != 1) continue;
      std::vector<float> slope(channels);
      for (int64_t k = 0; k < channels; ++k) slope[k] = extra + scale * cd[cd.size() == 1 ? 0 : k];
      const int slope_v = AddConstant(add.name + "/prelu_slope", {channels}, std::move(slope));
      for (const Node* d : dead) const_cast<Node*>(d)->removed = true;
      add.op = Op::kPRelu;
      add.inputs = {x, slope_v};
      break;
    }
  }
}

// Maximum/Minimum with a scalar constant become clamps; chains of clamps merge; a clamp is fused
// into the op that produces its input when nothing else reads that input.
void Graph::FoldClamps() {
  for (Node& n : nodes_) {
    if (n.removed || (n.op != Op::kMaximum && n.op != Op::kMinimum)) continue;
    for (int side = 0; side < 2; ++side) {
      float c = 0.f;
      if (IsConstant(n.inputs[side]) || !IsScalarConstant(n.inputs[1 - side], &c)) continue;
      if (NumElements(values_[n.inputs[1 - side]].shape) > 1 &&
          values_[n.inputs[side]].shape != values_[n.output].shape)
        continue;  // constant would broadcast up
      NodeAttrs a;
      (n.op == Op::kMaximum ? a.out_min : a.out_max) = c;
      n.op = Op::kClamp;
      n.inputs = {n.inputs[side]};
      n.attrs = a;
      break;
    }
  }
  auto fusable = [](Op op) {
    return op == Op::kConv2D || op == Op::kDepthwiseConv2D || op == Op::kDeconv2D || op == Op::kFullyConnected ||
           IsBinary(op) || op == Op::kClamp || op == Op::kMaxPool2D || op == Op::kAvgPool2D ||
           op == Op::kGlobalAvgPool2D;
  };
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Node& clamp = nodes_[i];
    if (clamp.removed || clamp.op != Op::kClamp) continue;
    const int in = clamp.inputs[0];
    const int p = values_[in].producer;
    if (p < 0 || nodes_[p].removed || !fusable(nodes_[p].op)) continue;
    if (std::find(outputs_.begin(), outputs_.end(), in) != outputs_.end() || Consumers(in).size() != 1) continue;
    Node& prod = nodes_[p];
    const float lo = std::max(prod.attrs.out_min, clamp.attrs.out_min);
    const float hi = std::min(prod.attrs.out_max, clamp.attrs.out_max);
    if (lo > hi) continue;  // disjoint ranges: keep both (result is a constant; never seen in practice)
    prod.attrs.out_min = lo;
    prod.attrs.out_max = hi;
    prod.output = clamp.output;
    values_[clamp.output].producer = p;
    clamp.removed = true;
  }
}

}  // namespace idm::nn
