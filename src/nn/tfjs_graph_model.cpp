#include "nn/tfjs_graph_model.h"

#include <sodium.h>

#include <algorithm>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "nn/tfjs_weights.h"

namespace idm::nn {

namespace {

using nlohmann::json;

std::string Base64Decode(const std::string& in) {
  std::string out(in.size(), '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), in.c_str(), in.size(), nullptr, &len,
                        nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
    return in;  // not base64: take it as is
  }
  out.resize(len);
  return out;
}

std::string StripPort(const std::string& name) {
  const auto colon = name.find(':');
  return colon == std::string::npos ? name : name.substr(0, colon);
}

// One TF node with convenient attribute access.
struct TfNode {
  const json* j;
  std::string name, op;
  std::vector<std::string> inputs;

  [[noreturn]] void Fail(const std::string& what) const {
    throw Error(ErrorCode::kModelFormat, "node '" + name + "' (" + op + "): " + what);
  }
  const json* Attr(const char* key) const {
    if (!j->contains("attr") || !j->at("attr").contains(key)) return nullptr;
    return &j->at("attr").at(key);
  }
  std::vector<int64_t> Ints(const char* key) const {
    std::vector<int64_t> v;
    const json* a = Attr(key);
    if (a && a->contains("list") && a->at("list").contains("i")) {
      for (const auto& x : a->at("list").at("i"))
        v.push_back(x.is_string() ? std::stoll(x.get<std::string>()) : x.get<int64_t>());
    }
    return v;
  }
  std::string Str(const char* key, const std::string& def = "") const {
    const json* a = Attr(key);
    return a && a->contains("s") ? Base64Decode(a->at("s").get<std::string>()) : def;
  }
  std::vector<std::string> Strs(const char* key) const {
    std::vector<std::string> v;
    const json* a = Attr(key);
    if (a && a->contains("list") && a->at("list").contains("s")) {
      for (const auto& x : a->at("list").at("s")) v.push_back(Base64Decode(x.get<std::string>()));
    }
    return v;
  }
  bool Bool(const char* key, bool def = false) const {
    const json* a = Attr(key);
    return a && a->contains("b") ? a->at("b").get<bool>() : def;
  }
  float Float(const char* key, float def = 0.f) const {
    const json* a = Attr(key);
    return a && a->contains("f") ? a->at("f").get<float>() : def;
  }
};

class Translator {
 public:
  Translator(const json& model, const WeightStore& weights, const TfjsLoadOptions& opt)
      : weights_(weights), opt_(opt), graph_(std::make_shared<Graph>()) {
    for (const auto& n : model.at("modelTopology").at("node")) {
      TfNode t{&n, n.at("name").get<std::string>(), n.at("op").get<std::string>(), {}};
      if (n.contains("input")) {
        for (const auto& i : n.at("input")) {
          const std::string s = i.get<std::string>();
          if (!s.empty() && s[0] != '^') t.inputs.push_back(StripPort(s));  // '^x' = control edge
        }
      }
      nodes_[t.name] = t;
    }
  }

  std::shared_ptr<Graph> Run(const std::vector<std::pair<std::string, std::string>>& outputs) {
    for (const auto& [key, node] : outputs) {
      if (!nodes_.count(node))
        throw Error(ErrorCode::kModelFormat, "output '" + key + "' names no node ('" + node + "')");
      const Operand o = Get(node);
      if (o.value < 0) throw Error(ErrorCode::kModelFormat, "output '" + key + "' is not a float tensor");
      graph_->AddOutput(o.value, key);
    }
    graph_->Simplify();
    return graph_;
  }

 private:
  // A translated TF tensor: a graph value, or a constant known at load time (kept for attribute
  // inputs such as shapes, axes and paddings, and promoted to a graph constant when used as data).
  struct Operand {
    int value = -1;
    bool is_const = false;
    Shape shape;
    std::vector<float> data;
  };

  int AsValue(const std::string& name, Operand& o) {
    if (o.value < 0) o.value = graph_->AddConstant(name, o.shape, o.data);
    return o.value;
  }

  Operand& Get(const std::string& name) {
    auto done = translated_.find(name);
    if (done != translated_.end()) return done->second;
    auto it = nodes_.find(name);
    if (it == nodes_.end()) throw Error(ErrorCode::kModelFormat, "a node reads '" + name + "', which does not exist");
    if (!in_progress_.insert(name).second) it->second.Fail("cycle in the graph");
    Operand o = Translate(it->second);
    in_progress_.erase(name);
    return translated_[name] = std::move(o);
  }

  Operand& In(const TfNode& n, size_t i) {
    if (i >= n.inputs.size()) n.Fail("expects at least " + std::to_string(i + 1) + " inputs");
    return Get(n.inputs[i]);
  }
  int InValue(const TfNode& n, size_t i) {
    Operand& o = In(n, i);  // first: it names a missing input (argument order is unspecified)
    return AsValue(n.inputs[i], o);
  }
  const Operand& ConstIn(const TfNode& n, size_t i) {
    const Operand& o = In(n, i);
    if (!o.is_const) n.Fail("input " + std::to_string(i) + " must be a constant");
    return o;
  }

  Operand Value(int v) {
    Operand o;
    o.value = v;
    o.shape = graph_->values()[v].shape;
    return o;
  }

  void Window(const TfNode& n, const Shape& x, int kh, int kw, NodeAttrs* a) {
    const auto strides = n.Ints("strides");
    const auto dil = n.Ints("dilations");
    if (n.Str("data_format", "NHWC") != "NHWC") n.Fail("only NHWC is supported");
    a->stride_h = strides.size() == 4 ? static_cast<int>(strides[1]) : 1;
    a->stride_w = strides.size() == 4 ? static_cast<int>(strides[2]) : 1;
    a->dilation_h = dil.size() == 4 ? static_cast<int>(dil[1]) : 1;
    a->dilation_w = dil.size() == 4 ? static_cast<int>(dil[2]) : 1;
    a->kernel_h = kh;
    a->kernel_w = kw;
    const std::string padding = n.Str("padding", "VALID");
    if (padding == "EXPLICIT") {
      const auto p = n.Ints("explicit_paddings");
      if (p.size() != 8) n.Fail("explicit_paddings must have 8 values");
      a->pad = {static_cast<int>(p[2]), static_cast<int>(p[5]), static_cast<int>(p[3]), static_cast<int>(p[4])};
    } else if (padding == "SAME" || padding == "VALID") {
      const PadMode m = padding == "SAME" ? PadMode::kSame : PadMode::kValid;
      Graph::TfPadding(m, x.at(1), kh, a->stride_h, a->dilation_h, &a->pad.top, &a->pad.bottom);
      Graph::TfPadding(m, x.at(2), kw, a->stride_w, a->dilation_w, &a->pad.left, &a->pad.right);
    } else {
      n.Fail("unknown padding '" + padding + "'");
    }
  }

  // A size read from a (possibly hostile) constant: converting an out-of-range float to an
  // integer is undefined, so anything that is not a plausible dimension is refused first.
  static int64_t SizeValue(const TfNode& n, float v) {
    if (!(v >= 0.f && v <= 16777216.f)) n.Fail("size out of range");
    return static_cast<int64_t>(v);
  }

  // Applies a fused activation from `fused_ops` (after BiasAdd) to value v.
  int Activation(const TfNode& n, int v, const std::string& act, size_t alpha_input) {
    NodeAttrs a;
    if (act == "Relu") {
      a.out_min = 0.f;
      return graph_->AddNode(Op::kClamp, n.name, {v}, a);
    }
    if (act == "Relu6") {
      a.out_min = 0.f;
      a.out_max = 6.f;
      return graph_->AddNode(Op::kClamp, n.name, {v}, a);
    }
    if (act == "Prelu") {
      Operand& alpha = In(n, alpha_input);
      if (!alpha.is_const) n.Fail("PReLU alpha must be constant");
      const int slope = graph_->AddConstant(n.name + "/alpha", {static_cast<int64_t>(alpha.data.size())}, alpha.data);
      return graph_->AddNode(Op::kPRelu, n.name, {v, slope});
    }
    if (act.empty()) return v;
    throw Error(ErrorCode::kUnsupportedOp,
                "node '" + n.name + "' (" + n.op + "): fused activation '" + act + "' is not supported");
  }

  Operand Translate(const TfNode& n) {
    const std::string& op = n.op;
    if (op == "Const") {
      Operand o;
      o.is_const = true;
      if (!weights_.Has(n.name)) n.Fail("constant has no weights in the manifest");
      const WeightTensor& w = weights_.Get(n.name);
      o.shape = w.shape;
      o.data = w.values;
      return o;
    }
    if (op == "Placeholder") {
      Shape shape;
      const json* a = n.Attr("shape");
      if (a && a->contains("shape") && a->at("shape").contains("dim")) {
        for (const auto& d : a->at("shape").at("dim")) {
          int64_t s = d.contains("size") ? std::stoll(d.at("size").get<std::string>()) : -1;
          shape.push_back(s < 0 ? opt_.batch : s);
        }
      }
      if (shape.empty()) n.Fail("input without a static shape");
      return Value(graph_->AddInput(n.name, shape));
    }
    if (op == "Identity" || op == "StopGradient" || op == "Snapshot") return In(n, 0);
    if (op == "Cast") {
      Operand o = In(n, 0);
      return o;  // float<->int casts of constants and floats are value-preserving here
    }

    const bool fused_conv = op == "_FusedConv2D" || op == "FusedDepthwiseConv2dNative";
    if (op == "Conv2D" || op == "DepthwiseConv2dNative" || fused_conv) {
      const bool dw = op == "DepthwiseConv2dNative" || op == "FusedDepthwiseConv2dNative";
      const int x = InValue(n, 0);
      const Operand& f = ConstIn(n, 1);
      if (f.shape.size() != 4) n.Fail("filter must be 4-D");
      NodeAttrs a;
      Window(n, graph_->values()[x].shape, static_cast<int>(f.shape[0]), static_cast<int>(f.shape[1]), &a);
      std::vector<int> ins = {x, InValue(n, 1)};
      std::string act;
      if (fused_conv) {
        const auto ops = n.Strs("fused_ops");
        if (ops.empty() || ops[0] != "BiasAdd") n.Fail("fused ops must start with BiasAdd");
        if (ops.size() > 2) n.Fail("too many fused ops");
        ins.push_back(InValue(n, 2));
        if (ops.size() == 2) act = ops[1];
      }
      const int y = graph_->AddNode(dw ? Op::kDepthwiseConv2D : Op::kConv2D, n.name, ins, a);
      return Value(Activation(n, y, act, 3));
    }
    if (op == "Conv2DBackpropInput") {
      // Inputs: the output size [N,H,W,C] asked for, the forward convolution's filter
      // [H,W,out,in], and the data. The padding is the forward convolution's (from the output
      // size), and the rows it cannot account for are added back as an adjustment.
      const Operand& sizes = ConstIn(n, 0);
      const Operand& f = ConstIn(n, 1);
      const int x = InValue(n, 2);
      if (sizes.data.size() != 4 || f.shape.size() != 4) n.Fail("needs a 4-value output size and a 4-D filter");
      const auto dil = n.Ints("dilations");
      if (dil.size() == 4 && (dil[1] != 1 || dil[2] != 1)) n.Fail("dilated transposed convolution is not supported");
      const Shape want = {SizeValue(n, sizes.data[0]), SizeValue(n, sizes.data[1]), SizeValue(n, sizes.data[2]),
                          SizeValue(n, sizes.data[3])};
      NodeAttrs a;
      Window(n, want, static_cast<int>(f.shape[0]), static_cast<int>(f.shape[1]), &a);
      const Shape& xs = graph_->values()[x].shape;
      if (xs.size() != 4) n.Fail("input must be 4-D");
      const int64_t rows = (xs[1] - 1) * a.stride_h + a.kernel_h - a.pad.top - a.pad.bottom;
      const int64_t cols = (xs[2] - 1) * a.stride_w + a.kernel_w - a.pad.left - a.pad.right;
      if (want[1] < rows || want[1] - rows >= a.stride_h || want[2] < cols || want[2] - cols >= a.stride_w) {
        n.Fail("output size " + ShapeToString(want) + " does not fit the input " + ShapeToString(xs));
      }
      a.adjust_h = static_cast<int>(want[1] - rows);
      a.adjust_w = static_cast<int>(want[2] - cols);
      const int y = graph_->AddNode(Op::kDeconv2D, n.name, {x, InValue(n, 1)}, a);
      if (graph_->values()[y].shape != want)
        n.Fail("output shape " + ShapeToString(graph_->values()[y].shape) + " is not " + ShapeToString(want));
      return Value(y);
    }
    if (op == "ResizeBilinear") {
      const int x = InValue(n, 0);
      const Operand& size = ConstIn(n, 1);
      if (size.data.size() != 2) n.Fail("size must have 2 values");
      NodeAttrs a;
      a.resize_h = static_cast<int>(SizeValue(n, size.data[0]));
      a.resize_w = static_cast<int>(SizeValue(n, size.data[1]));
      a.align_corners = n.Bool("align_corners");
      a.half_pixel_centers = n.Bool("half_pixel_centers");
      return Value(graph_->AddNode(Op::kResizeBilinear, n.name, {x}, a));
    }
    if (op == "AddN") {
      // A chain of two-input adds: XNNPACK has no n-ary add, and N is small (2 in the models).
      if (n.inputs.empty()) n.Fail("needs at least one input");
      int sum = InValue(n, 0);
      for (size_t i = 1; i < n.inputs.size(); ++i) {
        sum = graph_->AddNode(Op::kAdd, i + 1 == n.inputs.size() ? n.name : n.name + "/" + std::to_string(i),
                              {sum, InValue(n, i)});
      }
      return Value(sum);
    }
    if (op == "MatMul" || op == "_FusedMatMul") {
      if (n.Bool("transpose_a")) n.Fail("transpose_a is not supported");
      const int x = InValue(n, 0);
      const Operand& w = ConstIn(n, 1);
      if (w.shape.size() != 2) n.Fail("weights must be 2-D");
      int wv;
      if (n.Bool("transpose_b")) {
        const int64_t r = w.shape[0], c = w.shape[1];
        std::vector<float> t(w.data.size());
        for (int64_t i = 0; i < r; ++i)
          for (int64_t k = 0; k < c; ++k) t[k * r + i] = w.data[i * c + k];
        wv = graph_->AddConstant(n.name + "/weights_t", {c, r}, std::move(t));
      } else {
        wv = InValue(n, 1);
      }
      std::vector<int> ins = {x, wv};
      std::string act;
      if (op == "_FusedMatMul") {
        const auto ops = n.Strs("fused_ops");
        if (ops.empty() || ops[0] != "BiasAdd" || ops.size() > 2) n.Fail("unsupported fused ops");
        ins.push_back(InValue(n, 2));
        if (ops.size() == 2) act = ops[1];
      }
      return Value(Activation(n, graph_->AddNode(Op::kFullyConnected, n.name, ins), act, 3));
    }
    static const std::map<std::string, Op> kBinary = {
        {"Add", Op::kAdd}, {"AddV2", Op::kAdd},       {"BiasAdd", Op::kAdd},
        {"Sub", Op::kSub}, {"Mul", Op::kMul},         {"RealDiv", Op::kDiv},
        {"Div", Op::kDiv}, {"Maximum", Op::kMaximum}, {"Minimum", Op::kMinimum}};
    if (auto b = kBinary.find(op); b != kBinary.end()) {
      Operand& l = In(n, 0);
      Operand& r = In(n, 1);
      if (l.is_const && r.is_const) return FoldBinary(n, b->second, l, r);
      return Value(graph_->AddNode(b->second, n.name, {InValue(n, 0), InValue(n, 1)}));
    }
    static const std::map<std::string, Op> kUnary = {{"Sigmoid", Op::kSigmoid},
                                                     {"Abs", Op::kAbs},
                                                     {"Square", Op::kSquare},
                                                     {"Neg", Op::kNegate},
                                                     {"Rsqrt", Op::kRsqrt}};
    if (auto u = kUnary.find(op); u != kUnary.end()) return Value(graph_->AddNode(u->second, n.name, {InValue(n, 0)}));
    if (op == "Relu" || op == "Relu6") return Value(Activation(n, InValue(n, 0), op, 0));
    if (op == "Prelu") return Value(Activation(n, InValue(n, 0), "Prelu", 1));
    if (op == "Softmax") return Value(graph_->AddNode(Op::kSoftmax, n.name, {InValue(n, 0)}));
    if (op == "MaxPool" || op == "AvgPool") {
      const int x = InValue(n, 0);
      const auto k = n.Ints("ksize");
      if (k.size() != 4) n.Fail("ksize must have 4 values");
      NodeAttrs a;
      Window(n, graph_->values()[x].shape, static_cast<int>(k[1]), static_cast<int>(k[2]), &a);
      return Value(graph_->AddNode(op == "MaxPool" ? Op::kMaxPool2D : Op::kAvgPool2D, n.name, {x}, a));
    }
    if (op == "Pad" || op == "PadV2") {
      const int x = InValue(n, 0);
      const Operand& p = ConstIn(n, 1);
      NodeAttrs a;
      const size_t rank = graph_->values()[x].shape.size();
      if (p.data.size() != 2 * rank) n.Fail("paddings must be [rank, 2]");
      for (size_t d = 0; d < rank; ++d) {
        a.pre_pad.push_back(static_cast<int64_t>(p.data[2 * d]));
        a.post_pad.push_back(static_cast<int64_t>(p.data[2 * d + 1]));
      }
      if (op == "PadV2") a.pad_value = ConstIn(n, 2).data.at(0);
      return Value(graph_->AddNode(Op::kPad, n.name, {x}, a));
    }
    if (op == "Reshape" || op == "Squeeze") {
      const int x = InValue(n, 0);
      const Shape& in = graph_->values()[x].shape;
      NodeAttrs a;
      if (op == "Reshape") {
        const Operand& s = ConstIn(n, 1);
        int64_t known = 1;
        int infer = -1;
        for (size_t i = 0; i < s.data.size(); ++i) {
          const auto d = static_cast<int64_t>(s.data[i]);
          if (d == -1) {
            if (infer >= 0) n.Fail("more than one -1 in the shape");
            infer = static_cast<int>(i);
            a.new_shape.push_back(1);
          } else {
            a.new_shape.push_back(d);
            known *= d;
          }
        }
        if (infer >= 0) {
          if (known == 0 || NumElements(in) % known != 0) n.Fail("cannot infer the -1 dimension");
          a.new_shape[infer] = NumElements(in) / known;
        }
      } else {
        auto dims = n.Ints("squeeze_dims");
        for (size_t d = 0; d < in.size(); ++d) {
          const bool listed =
              std::count(dims.begin(), dims.end(), static_cast<int64_t>(d)) ||
              std::count(dims.begin(), dims.end(), static_cast<int64_t>(d) - static_cast<int64_t>(in.size()));
          if ((dims.empty() && in[d] == 1) || (listed && in[d] == 1)) continue;
          a.new_shape.push_back(in[d]);
        }
      }
      return Value(graph_->AddNode(Op::kReshape, n.name, {x}, a));
    }
    if (op == "Mean" || op == "Sum") {
      const int x = InValue(n, 0);
      const Shape& in = graph_->values()[x].shape;
      std::vector<int> axes;
      for (float f : ConstIn(n, 1).data)
        axes.push_back(f < 0 ? static_cast<int>(f) + static_cast<int>(in.size()) : static_cast<int>(f));
      std::sort(axes.begin(), axes.end());
      const bool keep = n.Bool("keep_dims");
      if (op == "Mean") {
        if (in.size() != 4 || axes != std::vector<int>{1, 2})
          n.Fail("Mean is supported over the spatial axes of NHWC only");
        const int y = graph_->AddNode(Op::kGlobalAvgPool2D, n.name, {x});
        if (keep) return Value(y);
        NodeAttrs a;
        a.new_shape = {in[0], in[3]};
        return Value(graph_->AddNode(Op::kReshape, n.name + "/squeeze", {y}, a));
      }
      NodeAttrs a;
      a.axes = axes;
      a.keep_dims = keep;
      return Value(graph_->AddNode(Op::kReduceSum, n.name, {x}, a));
    }
    if (op == "ConcatV2") {
      if (n.inputs.size() < 2) n.Fail("needs inputs and an axis");
      NodeAttrs a;
      a.axis = static_cast<int>(ConstIn(n, n.inputs.size() - 1).data.at(0));
      std::vector<int> ins;
      for (size_t i = 0; i + 1 < n.inputs.size(); ++i) ins.push_back(InValue(n, i));
      return Value(graph_->AddNode(Op::kConcat, n.name, ins, a));
    }
    throw Error(ErrorCode::kUnsupportedOp, "node '" + n.name + "': op '" + op + "' is not supported");
  }

  Operand FoldBinary(const TfNode& n, Op op, const Operand& l, const Operand& r) {
    // Only constant-with-scalar or equal shapes arise in practice (folded batch-norm constants).
    const bool ls = l.data.size() == 1, rs = r.data.size() == 1;
    if (!(ls || rs || l.shape == r.shape)) n.Fail("constant folding needs equal shapes or a scalar");
    Operand o;
    o.is_const = true;
    o.shape = ls ? r.shape : l.shape;
    const size_t count = std::max(l.data.size(), r.data.size());
    o.data.resize(count);
    for (size_t i = 0; i < count; ++i) {
      const float a = l.data[ls ? 0 : i], b = r.data[rs ? 0 : i];
      switch (op) {
        case Op::kAdd:
          o.data[i] = a + b;
          break;
        case Op::kSub:
          o.data[i] = a - b;
          break;
        case Op::kMul:
          o.data[i] = a * b;
          break;
        case Op::kDiv:
          o.data[i] = a / b;
          break;
        case Op::kMaximum:
          o.data[i] = std::max(a, b);
          break;
        case Op::kMinimum:
          o.data[i] = std::min(a, b);
          break;
        default:
          n.Fail("cannot fold");
      }
    }
    return o;
  }

  const WeightStore& weights_;
  TfjsLoadOptions opt_;
  std::shared_ptr<Graph> graph_;
  std::map<std::string, TfNode> nodes_;
  std::map<std::string, Operand> translated_;
  std::set<std::string> in_progress_;
};

}  // namespace

namespace {

// `path` names the model in errors and locates its shards; `read` fetches shard bytes.
std::shared_ptr<Graph> LoadFromText(const std::string& text, const std::string& path,
                                    const WeightStore::ShardReader& read, const TfjsLoadOptions& options,
                                    std::vector<std::string>* files) {
  json model;
  try {
    model = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(ErrorCode::kModelFormat, "'" + path + "' is not valid JSON: " + e.what());
  }
  try {
    if (!model.is_object() || !model.contains("modelTopology") || !model.contains("weightsManifest")) {
      throw Error(ErrorCode::kModelFormat,
                  "'" + path + "' is not a TF.js graph model (no modelTopology/weightsManifest)");
    }
    const auto slash = path.find_last_of('/');
    const WeightStore weights =
        WeightStore::Load(model.at("weightsManifest"), slash == std::string::npos ? "." : path.substr(0, slash), read);
    // Outputs: as asked, else the signature's, else every node nothing reads.
    std::vector<std::pair<std::string, std::string>> outputs;
    std::map<std::string, std::string> signature;
    if (model.contains("signature") && model.at("signature").contains("outputs")) {
      for (const auto& [key, v] : model.at("signature").at("outputs").items()) {
        signature[key] = StripPort(v.at("name").get<std::string>());
        if (options.outputs.empty()) outputs.emplace_back(key, signature[key]);
      }
    }
    for (const std::string& want : options.outputs) {
      auto it = signature.find(want);
      outputs.emplace_back(want, it != signature.end() ? it->second : StripPort(want));
    }
    if (outputs.empty()) {
      std::set<std::string> read;
      for (const auto& n : model.at("modelTopology").at("node")) {
        if (n.contains("input"))
          for (const auto& i : n.at("input")) read.insert(StripPort(i.get<std::string>()));
      }
      for (const auto& n : model.at("modelTopology").at("node")) {
        const std::string name = n.at("name").get<std::string>();
        if (!read.count(name) && n.at("op") != "Const") outputs.emplace_back(name, name);
      }
    }
    if (files != nullptr) {
      files->push_back(path);
      files->insert(files->end(), weights.files().begin(), weights.files().end());
    }
    Translator t(model, weights, options);
    return t.Run(outputs);
  } catch (const json::exception& e) {
    throw Error(ErrorCode::kModelFormat, "'" + path + "': malformed model: " + e.what());
  }
}

}  // namespace

std::shared_ptr<Graph> LoadTfjsGraphModel(const std::string& path, const TfjsLoadOptions& options,
                                          std::vector<std::string>* files) {
  return LoadFromText(ReadFileBytes(path), path, {}, options, files);
}

std::shared_ptr<Graph> LoadTfjsGraphModelFromMemory(const std::string& text,
                                                    const std::map<std::string, std::string>& shards,
                                                    const TfjsLoadOptions& options) {
  auto read = [&](const std::string& path) {
    const std::string name = path.rfind("./", 0) == 0 ? path.substr(2) : path;
    auto it = shards.find(name);
    if (it == shards.end()) throw Error(ErrorCode::kNotFound, "no shard '" + name + "'");
    return it->second;
  };
  return LoadFromText(text, ".", read, options, nullptr);
}

std::vector<std::string> TfjsModelFiles(const std::string& path) {
  std::vector<std::string> files = {path};
  try {
    const json model = json::parse(ReadFileBytes(path));
    const auto slash = path.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
    for (const auto& group : model.at("weightsManifest")) {
      for (const auto& p : group.at("paths")) files.push_back(dir + "/" + p.get<std::string>());
    }
  } catch (const json::exception& e) {
    throw Error(ErrorCode::kModelFormat, "'" + path + "': malformed model: " + e.what());
  }
  return files;
}

}  // namespace idm::nn
