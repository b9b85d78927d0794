#include "nn/executor.h"

#include <pthreadpool.h>
#include <xnnpack.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "core/error.h"

namespace idm::nn {

pthreadpool_t SharedThreadPool(int threads) {
  if (threads <= 1) return nullptr;
  static std::mutex mu;
  static std::map<int, pthreadpool_t> pools;
  std::lock_guard<std::mutex> lock(mu);
  auto it = pools.find(threads);
  if (it == pools.end()) it = pools.emplace(threads, pthreadpool_create(static_cast<size_t>(threads))).first;
  return it->second;
}

namespace {

bool IsXnnOp(Op op) {
  switch (op) {
    case Op::kConcat:
    case Op::kReduceSum:
    case Op::kRsqrt:
      return false;
    default:
      return true;
  }
}

void Check(xnn_status status, const Node& node, const char* what) {
  if (status != xnn_status_success) {
    throw Error(ErrorCode::kRuntime, std::string("XNNPACK rejected ") + what + " for node '" + node.name + "' (" +
                                         OpName(node.op) + "), status " + std::to_string(static_cast<int>(status)));
  }
}

std::vector<size_t> Dims(const Shape& s) {
  std::vector<size_t> d(s.begin(), s.end());
  if (d.empty()) d.push_back(1);  // XNNPACK wants at least one dimension for scalars
  return d;
}

}  // namespace

struct Executor::Stage {
  bool xnn = false;
  std::vector<int> nodes;
  // XNNPACK stage: the runtime and which graph values it reads and writes.
  xnn_runtime_t runtime = nullptr;
  std::vector<int> external_values;
  ~Stage() {
    if (runtime != nullptr) xnn_delete_runtime(runtime);
  }
};

Executor::Executor(std::shared_ptr<const Graph> graph, int threads) : graph_(std::move(graph)) {
  InstallSecureAllocators();
  pool_ = SharedThreadPool(threads);
  Build();
}

Executor::~Executor() = default;

float* Executor::Buffer(int value) {
  SecureVector<float>& b = buffers_[value];
  if (b.empty()) {
    // XNNPACK may read up to XNN_EXTRA_BYTES past the end of an input.
    b.resize(static_cast<size_t>(NumElements(graph_->values()[value].shape)) + XNN_EXTRA_BYTES / sizeof(float));
  }
  return b.data();
}

const float* Executor::ConstOrBuffer(int value) {
  if (graph_->IsConstant(value)) return graph_->ConstantData(value).data();
  return Buffer(value);
}

void Executor::Build() {
  const Graph& g = *graph_;
  const auto& nodes = g.nodes();
  const auto& values = g.values();
  buffers_.resize(values.size());

  // 1. Partition: maximal runs of XNNPACK-supported nodes, CPU nodes alone.
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].removed) continue;
    const bool xnn = IsXnnOp(nodes[i].op);
    if (stages_.empty() || !xnn || !stages_.back()->xnn) {
      stages_.push_back(std::make_unique<Stage>());
      stages_.back()->xnn = xnn;
    }
    stages_.back()->nodes.push_back(static_cast<int>(i));
  }

  // Which stage produces each value, and which stages read it.
  std::vector<int> produced_in(values.size(), -1);
  std::vector<std::set<int>> read_in(values.size());
  for (size_t s = 0; s < stages_.size(); ++s) {
    for (int n : stages_[s]->nodes) {
      produced_in[nodes[n].output] = static_cast<int>(s);
      for (int in : nodes[n].inputs) read_in[in].insert(static_cast<int>(s));
    }
  }
  std::set<int> graph_outputs(g.outputs().begin(), g.outputs().end());

  // 2. Lower each XNNPACK stage to a subgraph.
  for (size_t s = 0; s < stages_.size(); ++s) {
    Stage& st = *stages_[s];
    if (!st.xnn) continue;
    std::map<int, uint32_t> ids;  // graph value -> xnn value id
    std::vector<int> externals;
    for (int n : st.nodes) {
      for (int in : nodes[n].inputs) {
        if (!g.IsConstant(in) && produced_in[in] != static_cast<int>(s) &&
            std::find(externals.begin(), externals.end(), in) == externals.end()) {
          externals.push_back(in);
        }
      }
    }
    const size_t num_inputs = externals.size();
    for (int n : st.nodes) {
      const int out = nodes[n].output;
      bool escapes = graph_outputs.count(out) > 0;
      for (int r : read_in[out]) escapes = escapes || r != static_cast<int>(s);
      if (escapes) externals.push_back(out);
    }
    xnn_subgraph_t sg = nullptr;
    if (xnn_create_subgraph(static_cast<uint32_t>(externals.size()), 0, &sg) != xnn_status_success) {
      throw Error(ErrorCode::kRuntime, "XNNPACK could not create a subgraph");
    }
    std::unique_ptr<xnn_subgraph, decltype(&xnn_delete_subgraph)> sg_guard(sg, xnn_delete_subgraph);
    for (size_t e = 0; e < externals.size(); ++e) {
      const int v = externals[e];
      const auto dims = Dims(values[v].shape);
      uint32_t id = 0;
      const uint32_t flags = e < num_inputs ? XNN_VALUE_FLAG_EXTERNAL_INPUT : XNN_VALUE_FLAG_EXTERNAL_OUTPUT;
      if (xnn_define_tensor_value(sg, xnn_datatype_fp32, dims.size(), dims.data(), nullptr, static_cast<uint32_t>(e),
                                  flags, &id) != xnn_status_success) {
        throw Error(ErrorCode::kRuntime, "XNNPACK rejected tensor '" + values[v].name + "'");
      }
      ids[v] = id;
    }
    auto define_static = [&](const Node& node, const Shape& shape, const float* data) {
      const auto dims = Dims(shape);
      uint32_t id = 0;
      Check(
          xnn_define_tensor_value(sg, xnn_datatype_fp32, dims.size(), dims.data(), data, XNN_INVALID_VALUE_ID, 0, &id),
          node, "a constant");
      return id;
    };
    auto value_id = [&](const Node& node, int v) -> uint32_t {
      auto it = ids.find(v);
      if (it != ids.end()) return it->second;
      uint32_t id = 0;
      if (g.IsConstant(v)) {
        id = define_static(node, values[v].shape, g.ConstantData(v).data());
      } else {
        const auto dims = Dims(values[v].shape);
        Check(xnn_define_tensor_value(sg, xnn_datatype_fp32, dims.size(), dims.data(), nullptr, XNN_INVALID_VALUE_ID, 0,
                                      &id),
              node, "an intermediate tensor");
      }
      ids[v] = id;
      return id;
    };
    auto pack = [&](std::vector<float> data) {
      packed_.push_back(std::move(data));
      return packed_.back().data();
    };

    for (int n : st.nodes) {
      const Node& node = nodes[n];
      const NodeAttrs& a = node.attrs;
      const uint32_t out = value_id(node, node.output);
      auto in = [&](size_t i) { return value_id(node, node.inputs[i]); };
      switch (node.op) {
        case Op::kConv2D:
        case Op::kDepthwiseConv2D: {
          const Shape& fs = values[node.inputs[1]].shape;  // HWIO / HWIM
          if (!g.IsConstant(node.inputs[1]))
            throw Error(ErrorCode::kUnsupportedOp, "node '" + node.name + "': filter must be constant");
          const int64_t kh = fs[0], kw = fs[1], ci = fs[2], co = fs[3];
          const std::vector<float>& f = g.ConstantData(node.inputs[1]);
          const bool dw = node.op == Op::kDepthwiseConv2D;
          const int64_t out_c = dw ? ci * co : co;
          uint32_t filter = 0;
          if (dw) {
            filter = define_static(node, {1, kh, kw, out_c}, f.data());  // HWIM is already [1,H,W,I*M]
          } else {
            std::vector<float> ohwi(f.size());
            for (int64_t h = 0; h < kh; ++h)
              for (int64_t w = 0; w < kw; ++w)
                for (int64_t i = 0; i < ci; ++i)
                  for (int64_t o = 0; o < co; ++o)
                    ohwi[((o * kh + h) * kw + w) * ci + i] = f[((h * kw + w) * ci + i) * co + o];
            filter = define_static(node, {co, kh, kw, ci}, pack(std::move(ohwi)));
          }
          const uint32_t bias = node.inputs.size() > 2
                                    ? define_static(node, {out_c}, g.ConstantData(node.inputs[2]).data())
                                    : define_static(node, {out_c}, pack(std::vector<float>(out_c, 0.f)));
          if (node.inputs.size() > 2 && !g.IsConstant(node.inputs[2]))
            throw Error(ErrorCode::kUnsupportedOp, "node '" + node.name + "': bias must be constant");
          if (dw) {
            Check(xnn_define_depthwise_convolution_2d(sg, a.pad.top, a.pad.right, a.pad.bottom, a.pad.left, kh, kw,
                                                      a.stride_h, a.stride_w, a.dilation_h, a.dilation_w, co, ci,
                                                      a.out_min, a.out_max, in(0), filter, bias, out, 0),
                  node, "depthwise convolution");
          } else {
            Check(xnn_define_convolution_2d(sg, a.pad.top, a.pad.right, a.pad.bottom, a.pad.left, kh, kw, a.stride_h,
                                            a.stride_w, a.dilation_h, a.dilation_w, 1, ci, co, a.out_min, a.out_max,
                                            in(0), filter, bias, out, 0),
                  node, "convolution");
          }
          break;
        }
        case Op::kDeconv2D: {
          if (!g.IsConstant(node.inputs[1]) || (node.inputs.size() > 2 && !g.IsConstant(node.inputs[2]))) {
            throw Error(ErrorCode::kUnsupportedOp, "node '" + node.name + "': filter and bias must be constant");
          }
          // TF's [H,W,out,in] to XNNPACK's [out,H,W,in]; both apply the taps unflipped
          // (output row y*stride + ky - pad_top receives input row y times tap ky).
          const Shape& fs = values[node.inputs[1]].shape;
          const int64_t kh = fs[0], kw = fs[1], co = fs[2], ci = fs[3];
          const std::vector<float>& f = g.ConstantData(node.inputs[1]);
          std::vector<float> ohwi(f.size());
          for (int64_t h = 0; h < kh; ++h)
            for (int64_t w = 0; w < kw; ++w)
              for (int64_t o = 0; o < co; ++o)
                for (int64_t i = 0; i < ci; ++i)
                  ohwi[((o * kh + h) * kw + w) * ci + i] = f[((h * kw + w) * co + o) * ci + i];
          const uint32_t filter = define_static(node, {co, kh, kw, ci}, pack(std::move(ohwi)));
          const uint32_t bias = node.inputs.size() > 2
                                    ? define_static(node, {co}, g.ConstantData(node.inputs[2]).data())
                                    : define_static(node, {co}, pack(std::vector<float>(co, 0.f)));
          Check(xnn_define_deconvolution_2d(sg, a.pad.top, a.pad.right, a.pad.bottom, a.pad.left, a.adjust_h,
                                            a.adjust_w, kh, kw, a.stride_h, a.stride_w, 1, 1, 1, ci, co, a.out_min,
                                            a.out_max, in(0), filter, bias, out, 0),
                node, "deconvolution");
          break;
        }
        case Op::kResizeBilinear: {
          // XNNPACK's default is TF's half_pixel_centers; its legacy mode is TF's default (neither flag).
          const uint32_t flags = a.align_corners        ? XNN_FLAG_ALIGN_CORNERS
                                 : a.half_pixel_centers ? 0
                                                        : XNN_FLAG_TENSORFLOW_LEGACY_MODE;
          Check(xnn_define_static_resize_bilinear_2d(sg, a.resize_h, a.resize_w, in(0), out, flags), node,
                "resize bilinear");
          break;
        }
        case Op::kFullyConnected: {
          if (!g.IsConstant(node.inputs[1]))
            throw Error(ErrorCode::kUnsupportedOp, "node '" + node.name + "': weights must be constant");
          const Shape& ws = values[node.inputs[1]].shape;
          const uint32_t bias =
              node.inputs.size() > 2 ? in(2) : define_static(node, {ws[1]}, pack(std::vector<float>(ws[1], 0.f)));
          Check(
              xnn_define_fully_connected(sg, a.out_min, a.out_max, in(0), in(1), bias, out, XNN_FLAG_TRANSPOSE_WEIGHTS),
              node, "fully connected");
          break;
        }
        case Op::kAdd:
          Check(xnn_define_add2(sg, a.out_min, a.out_max, in(0), in(1), out, 0), node, "add");
          break;
        case Op::kSub:
          Check(xnn_define_subtract(sg, a.out_min, a.out_max, in(0), in(1), out, 0), node, "subtract");
          break;
        case Op::kMul:
          Check(xnn_define_multiply2(sg, a.out_min, a.out_max, in(0), in(1), out, 0), node, "multiply");
          break;
        case Op::kDiv:
          Check(xnn_define_divide(sg, a.out_min, a.out_max, in(0), in(1), out, 0), node, "divide");
          break;
        case Op::kMaximum:
        case Op::kMinimum: {
          // maximum2/minimum2 carry no output range: apply a fused one as a separate clamp.
          const bool ranged = !std::isinf(a.out_min) || !std::isinf(a.out_max);
          uint32_t tmp = out;
          if (ranged) {
            const auto dims = Dims(values[node.output].shape);
            Check(xnn_define_tensor_value(sg, xnn_datatype_fp32, dims.size(), dims.data(), nullptr,
                                          XNN_INVALID_VALUE_ID, 0, &tmp),
                  node, "an intermediate tensor");
          }
          Check(node.op == Op::kMaximum ? xnn_define_maximum2(sg, in(0), in(1), tmp, 0)
                                        : xnn_define_minimum2(sg, in(0), in(1), tmp, 0),
                node, "maximum/minimum");
          if (ranged) Check(xnn_define_clamp(sg, a.out_min, a.out_max, tmp, out, 0), node, "clamp");
          break;
        }
        case Op::kClamp:
          Check(xnn_define_clamp(sg, a.out_min, a.out_max, in(0), out, 0), node, "clamp");
          break;
        case Op::kPRelu:
          Check(xnn_define_prelu(sg, in(0), in(1), out, 0), node, "prelu");
          break;
        case Op::kSigmoid:
          Check(xnn_define_sigmoid(sg, in(0), out, 0), node, "sigmoid");
          break;
        case Op::kSoftmax:
          Check(xnn_define_softmax(sg, in(0), out, 0), node, "softmax");
          break;
        case Op::kAbs:
          Check(xnn_define_abs(sg, in(0), out, 0), node, "abs");
          break;
        case Op::kSquare:
          Check(xnn_define_square(sg, in(0), out, 0), node, "square");
          break;
        case Op::kNegate:
          Check(xnn_define_negate(sg, in(0), out, 0), node, "negate");
          break;
        case Op::kMaxPool2D:
          Check(xnn_define_max_pooling_2d(sg, a.pad.top, a.pad.right, a.pad.bottom, a.pad.left, a.kernel_h, a.kernel_w,
                                          a.stride_h, a.stride_w, 1, 1, a.out_min, a.out_max, in(0), out, 0),
                node, "max pooling");
          break;
        case Op::kAvgPool2D:
          Check(xnn_define_average_pooling_2d(sg, a.pad.top, a.pad.right, a.pad.bottom, a.pad.left, a.kernel_h,
                                              a.kernel_w, a.stride_h, a.stride_w, a.out_min, a.out_max, in(0), out, 0),
                node, "average pooling");
          break;
        case Op::kGlobalAvgPool2D:
          Check(xnn_define_global_average_pooling_2d(sg, a.out_min, a.out_max, in(0), out, 0), node,
                "global average pooling");
          break;
        case Op::kPad: {
          std::vector<size_t> pre(a.pre_pad.begin(), a.pre_pad.end()), post(a.post_pad.begin(), a.post_pad.end());
          Check(xnn_define_static_constant_pad(sg, pre.data(), post.data(), a.pad_value, in(0), out, 0), node, "pad");
          break;
        }
        case Op::kReshape: {
          const auto dims = Dims(a.new_shape);
          Check(xnn_define_static_reshape(sg, dims.size(), dims.data(), in(0), out, 0), node, "reshape");
          break;
        }
        default:
          throw Error(ErrorCode::kUnsupportedOp,
                      "node '" + node.name + "': op " + OpName(node.op) + " has no XNNPACK lowering");
      }
    }
    Check(xnn_create_runtime_v2(sg, pool_, 0, &st.runtime), nodes[st.nodes.front()], "the subgraph");
    std::vector<xnn_external_value> ext(externals.size());
    for (size_t e = 0; e < externals.size(); ++e) ext[e] = {static_cast<uint32_t>(e), Buffer(externals[e])};
    Check(xnn_setup_runtime(st.runtime, ext.size(), ext.data()), nodes[st.nodes.front()], "the runtime setup");
    st.external_values = std::move(externals);
  }
  // XNNPACK packs convolution and fully-connected weights into its own buffers when the runtime
  // is created; our re-laid-out copies are dead from here on (the golden tests would turn NaN if
  // XNNPACK still read them: they are poisoned before release).
  for (auto& p : packed_) std::fill(p.begin(), p.end(), std::numeric_limits<float>::quiet_NaN());
  packed_.clear();
  packed_.shrink_to_fit();
  for (int v : g.inputs()) Buffer(v);
  for (int v : g.outputs()) {
    if (!g.IsConstant(v)) Buffer(v);
  }
}

void Executor::RunCpuNode(const Node& node) {
  const Graph& g = *graph_;
  const auto& values = g.values();
  const Shape& out_shape = values[node.output].shape;
  float* out = Buffer(node.output);
  const NodeAttrs& a = node.attrs;
  switch (node.op) {
    case Op::kConcat: {
      const int rank = static_cast<int>(out_shape.size());
      const int axis = a.axis < 0 ? a.axis + rank : a.axis;
      int64_t outer = 1, inner = 1;
      for (int d = 0; d < axis; ++d) outer *= out_shape[d];
      for (int d = axis + 1; d < rank; ++d) inner *= out_shape[d];
      const int64_t out_row = out_shape[axis] * inner;
      int64_t offset = 0;
      for (int in : node.inputs) {
        const int64_t row = values[in].shape[axis] * inner;
        const float* src = ConstOrBuffer(in);
        for (int64_t o = 0; o < outer; ++o) std::memcpy(out + o * out_row + offset, src + o * row, row * sizeof(float));
        offset += row;
      }
      break;
    }
    case Op::kReduceSum: {
      const Shape& in_shape = values[node.inputs[0]].shape;
      const float* src = ConstOrBuffer(node.inputs[0]);
      const int rank = static_cast<int>(in_shape.size());
      std::fill(out, out + NumElements(out_shape), 0.f);
      std::vector<int64_t> idx(rank, 0);
      const int64_t total = NumElements(in_shape);
      for (int64_t i = 0; i < total; ++i) {
        int64_t o = 0;
        for (int d = 0; d < rank; ++d) {
          const bool reduced = std::count(a.axes.begin(), a.axes.end(), d) > 0;
          if (!reduced) o = o * in_shape[d] + idx[d];
        }
        out[o] += src[i];
        for (int d = rank - 1; d >= 0; --d) {
          if (++idx[d] < in_shape[d]) break;
          idx[d] = 0;
        }
      }
      break;
    }
    case Op::kRsqrt: {
      const float* src = ConstOrBuffer(node.inputs[0]);
      const int64_t n = NumElements(out_shape);
      for (int64_t i = 0; i < n; ++i) out[i] = 1.f / std::sqrt(src[i]);
      break;
    }
    default:
      throw Error(ErrorCode::kUnsupportedOp, "node '" + node.name + "': op " + OpName(node.op) + " has no CPU kernel");
  }
}

std::vector<SecureVector<float>> Executor::Run(const std::vector<const float*>& inputs) {
  std::lock_guard<std::mutex> lock(mu_);
  const Graph& g = *graph_;
  if (inputs.size() != g.inputs().size()) {
    throw Error(ErrorCode::kInvalidArgument,
                "graph takes " + std::to_string(g.inputs().size()) + " inputs, got " + std::to_string(inputs.size()));
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const int v = g.inputs()[i];
    std::memcpy(Buffer(v), inputs[i], NumElements(g.values()[v].shape) * sizeof(float));
  }
  for (const auto& st : stages_) {
    if (st->xnn) {
      if (xnn_invoke_runtime(st->runtime) != xnn_status_success) {
        throw Error(ErrorCode::kRuntime,
                    "XNNPACK failed while running node '" + g.nodes()[st->nodes.front()].name + "'");
      }
    } else {
      for (int n : st->nodes) RunCpuNode(g.nodes()[n]);
    }
  }
  std::vector<SecureVector<float>> outs;
  for (int v : g.outputs()) {
    const float* src = ConstOrBuffer(v);
    outs.emplace_back(src, src + NumElements(g.values()[v].shape));
  }
  // Intermediate activations of a face are wiped as soon as the outputs are copied out.
  for (auto& b : buffers_) SecureZero(b.data(), b.size() * sizeof(float));
  return outs;
}

std::string Executor::PartitionSummary() const {
  std::ostringstream s;
  for (size_t i = 0; i < stages_.size(); ++i) {
    if (i) s << ' ';
    if (stages_[i]->xnn)
      s << "xnn(" << stages_[i]->nodes.size() << ')';
    else
      s << "cpu(" << OpName(graph_->nodes()[stages_[i]->nodes.front()].op) << ')';
  }
  return s.str();
}

}  // namespace idm::nn
