#include "nn/faceapi_nets.h"

#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"

namespace idm::nn {

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kRelu = 0.f;  // out_min that turns a fused activation range into ReLU

[[noreturn]] void Bad(const std::string& what) { throw Error(ErrorCode::kModelFormat, "face-api weights: " + what); }

// A weight as a graph constant. `shape` entries of -1 are taken from the manifest; the others
// must match, so a manifest from a different net fails here with the tensor's name rather than
// as an anonymous shape error deep in the graph.
int Weight(Graph& g, const WeightStore& w, const std::string& name, Shape shape) {
  const WeightTensor& t = w.Get(name);
  if (t.shape.size() != shape.size()) Bad("'" + name + "' has shape " + ShapeToString(t.shape));
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] >= 0 && shape[i] != t.shape[i]) Bad("'" + name + "' has shape " + ShapeToString(t.shape) + ", expected " + ShapeToString(shape));
    shape[i] = t.shape[i];
  }
  return g.AddConstant(name, shape, t.values);
}

int64_t Channels(const Graph& g, int v) { return g.values()[v].shape.back(); }

// tfjs's leaky() in tinyYolov2/leaky.ts is relu(x - 0.1x) + 0.1x with the slope as float32(0.1):
// x for x >= 0 and 0.1x below. That is PReLU with a constant slope, which XNNPACK has as a
// subgraph node (so no new op is needed in the IR).
int Leaky(Graph& g, const std::string& name, int x) {
  const int64_t c = Channels(g, x);
  const int slope = g.AddConstant(name + "/slope", {c}, std::vector<float>(c, 0.1f));
  return g.AddNode(Op::kPRelu, name, {x, slope});
}

// tf.separableConv2d(x, depthwise_filter, pointwise_filter, stride, padding) + bias: a depthwise
// conv (no bias) then a 1x1 conv that carries the bias. `out_min` fuses a following ReLU.
int SeparableConv(Graph& g, const WeightStore& w, const std::string& prefix, int x, int stride, PadMode mode,
                  float out_min = -kInf) {
  const int64_t cin = Channels(g, x);
  const int dw = Weight(g, w, prefix + "/depthwise_filter", {3, 3, cin, 1});
  const int pw = Weight(g, w, prefix + "/pointwise_filter", {1, 1, cin, -1});
  const int64_t cout = g.values()[pw].shape[3];
  const int bias = Weight(g, w, prefix + "/bias", {cout});
  const int y = g.DepthwiseConv2D(prefix + "/depthwise", x, dw, -1, stride, mode);
  return g.Conv2D(prefix + "/pointwise", y, pw, bias, 1, PadMode::kValid, out_min);
}

// ---- faceRecognitionNet ------------------------------------------------------------------------

// faceRecognitionNet/convLayer.ts: conv2d + bias, then the scale layer (x * weights + biases per
// channel), then an optional ReLU. The scale layer is folded into the convolution:
//   (conv(x, W) + b) * s + t  =  conv(x, W * s) + (b * s + t)
// which only changes float32 rounding (well below the cpu-vs-wasm spread of tfjs itself).
int ConvScale(Graph& g, const WeightStore& w, const std::string& prefix, int x, int stride, PadMode mode, bool relu) {
  const int64_t cin = Channels(g, x);
  const WeightTensor& f = w.Get(prefix + "/conv/filters");
  if (f.shape.size() != 4 || f.shape[2] != cin) Bad("'" + prefix + "/conv/filters' has shape " + ShapeToString(f.shape));
  const int64_t cout = f.shape[3];
  auto vec = [&](const std::string& name) -> const std::vector<float>& {
    const WeightTensor& t = w.Get(name);
    if (t.shape != Shape{cout}) Bad("'" + name + "' has shape " + ShapeToString(t.shape) + ", expected [" + std::to_string(cout) + "]");
    return t.values;
  };
  const std::vector<float>& b = vec(prefix + "/conv/bias");
  const std::vector<float>& s = vec(prefix + "/scale/weights");
  const std::vector<float>& t = vec(prefix + "/scale/biases");
  std::vector<float> filt = f.values;  // HWIO: the output channel is the fastest axis
  for (size_t i = 0; i < filt.size(); ++i) filt[i] *= s[i % cout];
  std::vector<float> bias(cout);
  for (int64_t o = 0; o < cout; ++o) bias[o] = b[o] * s[o] + t[o];
  const int fv = g.AddConstant(prefix + "/filters_scaled", f.shape, std::move(filt));
  const int bv = g.AddConstant(prefix + "/bias_scaled", {cout}, std::move(bias));
  return g.Conv2D(prefix, x, fv, bv, stride, mode, relu ? kRelu : -kInf);
}

// residualLayer.ts residual(): relu(convNoRelu(conv(x)) + x), both 3x3 stride 1 SAME.
int Residual(Graph& g, const WeightStore& w, const std::string& prefix, int x) {
  int out = ConvScale(g, w, prefix + "/conv1", x, 1, PadMode::kSame, true);
  out = ConvScale(g, w, prefix + "/conv2", out, 1, PadMode::kSame, false);
  NodeAttrs a;
  a.out_min = kRelu;
  return g.AddNode(Op::kAdd, prefix + "/add", {out, x}, a);
}

// residualLayer.ts residualDown(): the main path is a 3x3 stride-2 VALID conv then a 3x3 SAME
// one; the shortcut is avgPool(2x2, stride 2, VALID) of the input with zero channels appended
// (tf.concat([pooled, zeros(pooled.shape)], 3): the channel count doubles, the new ones last).
// Where the two paths' spatial sizes differ (VALID 3x3/2 gives floor((n-3)/2)+1, the pool
// floor(n/2)), face-api appends one zero row and one zero column to the main path.
int ResidualDown(Graph& g, const WeightStore& w, const std::string& prefix, int x) {
  int out = ConvScale(g, w, prefix + "/conv1", x, 2, PadMode::kValid, true);
  out = ConvScale(g, w, prefix + "/conv2", out, 1, PadMode::kSame, false);
  int pooled = g.Pool2D(Op::kAvgPool2D, prefix + "/shortcut_pool", x, 2, 2, PadMode::kValid);
  const Shape os = g.values()[out].shape;
  const Shape ps = g.values()[pooled].shape;
  if (os[1] != ps[1] || os[2] != ps[2]) {
    NodeAttrs a;
    a.pre_pad = {0, 0, 0, 0};
    a.post_pad = {0, 1, 1, 0};
    out = g.AddNode(Op::kPad, prefix + "/pad_hw", {out}, a);
  }
  if (ps[3] != os[3]) {
    NodeAttrs a;
    a.pre_pad = {0, 0, 0, 0};
    a.post_pad = {0, 0, 0, ps[3]};
    pooled = g.AddNode(Op::kPad, prefix + "/pad_channels", {pooled}, a);
  }
  // The add broadcasts, so check the shapes here: a size-1 dimension would otherwise pass silently.
  if (g.values()[out].shape != g.values()[pooled].shape) {
    Bad(prefix + ": main path " + ShapeToString(g.values()[out].shape) + " does not match shortcut " +
        ShapeToString(g.values()[pooled].shape));
  }
  NodeAttrs a;
  a.out_min = kRelu;
  return g.AddNode(Op::kAdd, prefix + "/add", {pooled, out}, a);
}

// ---- faceLandmark68Net -----------------------------------------------------------------------

// faceFeatureExtractor/denseBlock.ts denseBlock4(): every conv's output feeds all later ones.
// The sums are kept in face-api's association order (out1 + (out2 + (out3 + out4))) so that
// float32 rounding matches.
int DenseBlock4(Graph& g, const WeightStore& w, const std::string& prefix, int x, bool first_layer) {
  int out1;
  if (first_layer) {
    const int f = Weight(g, w, prefix + "/conv0/filters", {3, 3, Channels(g, x), -1});
    const int b = Weight(g, w, prefix + "/conv0/bias", {g.values()[f].shape[3]});
    out1 = g.Conv2D(prefix + "/conv0", x, f, b, 2, PadMode::kSame, kRelu);
  } else {
    out1 = SeparableConv(g, w, prefix + "/conv0", x, 2, PadMode::kSame, kRelu);
  }
  auto add = [&](const std::string& name, int a, int b, bool relu) {
    NodeAttrs at;
    if (relu) at.out_min = kRelu;
    return g.AddNode(Op::kAdd, prefix + "/" + name, {a, b}, at);
  };
  const int out2 = SeparableConv(g, w, prefix + "/conv1", out1, 1, PadMode::kSame);
  const int in3 = add("in3", out1, out2, true);
  const int out3 = SeparableConv(g, w, prefix + "/conv2", in3, 1, PadMode::kSame);
  const int in4 = add("in4", out1, add("sum23", out2, out3, false), true);
  const int out4 = SeparableConv(g, w, prefix + "/conv3", in4, 1, PadMode::kSame);
  return add("out", out1, add("sum234", out2, add("sum34", out3, out4, false), false), true);
}

// ---- ssdMobilenetv1 ---------------------------------------------------------------------------

// ssdMobilenetv1/pointwiseConvLayer.ts: conv2d SAME (1x1, or 3x3 in conv_0 and the extra feature
// layers) + batch_norm_offset, clipByValue(0, 6).
int PointwiseConv(Graph& g, const WeightStore& w, const std::string& prefix, int x, int stride) {
  const int f = Weight(g, w, prefix + "/weights", {-1, -1, Channels(g, x), -1});
  const int b = Weight(g, w, prefix + "/convolution_bn_offset", {g.values()[f].shape[3]});
  return g.Conv2D(prefix, x, f, b, stride, PadMode::kSame, 0.f, 6.f);
}

// mobileNetV1.ts depthwiseConvLayer(): depthwise conv SAME, tf.batchNorm, clipByValue(0, 6).
// tfjs's batchNorm is offset + (x - mean) * scale / sqrt(variance + eps), so it folds into the
// depthwise filter and a bias with k = scale / sqrt(variance + eps) (computed in double, as the
// kernel does):  W' = W * k,  b' = offset - mean * k.
int DepthwiseBatchNorm(Graph& g, const WeightStore& w, const std::string& prefix, int x, int stride) {
  constexpr double kEpsilon = 0.0010000000474974513;  // float32(1e-3), as in mobileNetV1.ts
  const int64_t c = Channels(g, x);
  const WeightTensor& f = w.Get(prefix + "/depthwise_weights");
  if (f.shape != Shape{3, 3, c, 1}) Bad("'" + prefix + "/depthwise_weights' has shape " + ShapeToString(f.shape));
  auto vec = [&](const std::string& name) -> const std::vector<float>& {
    const WeightTensor& t = w.Get(prefix + "/BatchNorm/" + name);
    if (t.shape != Shape{c}) Bad("'" + prefix + "/BatchNorm/" + name + "' has shape " + ShapeToString(t.shape));
    return t.values;
  };
  const std::vector<float>& gamma = vec("gamma");
  const std::vector<float>& beta = vec("beta");
  const std::vector<float>& mean = vec("moving_mean");
  const std::vector<float>& var = vec("moving_variance");
  std::vector<double> k(c);
  for (int64_t i = 0; i < c; ++i) k[i] = gamma[i] / std::sqrt(static_cast<double>(var[i]) + kEpsilon);
  std::vector<float> filt(f.values.size());
  for (size_t i = 0; i < filt.size(); ++i) filt[i] = static_cast<float>(f.values[i] * k[i % c]);  // HWIM, M = 1
  std::vector<float> bias(c);
  for (int64_t i = 0; i < c; ++i) bias[i] = static_cast<float>(beta[i] - mean[i] * k[i]);
  const int fv = g.AddConstant(prefix + "/filters_bn", f.shape, std::move(filt));
  const int bv = g.AddConstant(prefix + "/bias_bn", {c}, std::move(bias));
  return g.DepthwiseConv2D(prefix, x, fv, bv, stride, PadMode::kSame, 0.f, 6.f);
}

}  // namespace

std::shared_ptr<Graph> BuildFaceRecognitionNet(const WeightStore& w, int batch) {
  auto g = std::make_shared<Graph>();
  int x = g->AddInput("input", {batch, 150, 150, 3});
  // FaceRecognitionNet.ts forwardInput(): 7x7/2 VALID conv (150 -> 72), 3x3/2 VALID max pool (-> 35).
  x = ConvScale(*g, w, "conv32_down", x, 2, PadMode::kValid, true);
  x = g->Pool2D(Op::kMaxPool2D, "pool", x, 3, 2, PadMode::kValid);
  x = Residual(*g, w, "conv32_1", x);
  x = Residual(*g, w, "conv32_2", x);
  x = Residual(*g, w, "conv32_3", x);
  x = ResidualDown(*g, w, "conv64_down", x);   // 35 -> 17
  x = Residual(*g, w, "conv64_1", x);
  x = Residual(*g, w, "conv64_2", x);
  x = Residual(*g, w, "conv64_3", x);
  x = ResidualDown(*g, w, "conv128_down", x);  // 17 -> 8
  x = Residual(*g, w, "conv128_1", x);
  x = Residual(*g, w, "conv128_2", x);
  x = ResidualDown(*g, w, "conv256_down", x);  // 8 -> 3, padded to the shortcut's 4
  x = Residual(*g, w, "conv256_1", x);
  x = Residual(*g, w, "conv256_2", x);
  x = ResidualDown(*g, w, "conv256_down_out", x);  // 4 -> 1, padded to 2
  // out.mean([1, 2]) then matMul(fc): no bias.
  x = g->AddNode(Op::kGlobalAvgPool2D, "mean", {x});
  NodeAttrs r;
  r.new_shape = {batch, Channels(*g, x)};
  x = g->AddNode(Op::kReshape, "flatten", {x}, r);
  const int fc = Weight(*g, w, "fc", {Channels(*g, x), 128});
  x = g->AddNode(Op::kFullyConnected, "fc", {x, fc});
  g->AddOutput(x, "descriptor");
  return g;
}

std::shared_ptr<Graph> BuildFaceLandmark68Net(const WeightStore& w) {
  auto g = std::make_shared<Graph>();
  int x = g->AddInput("input", {1, 112, 112, 3});
  // FaceFeatureExtractor.ts: four stride-2 dense blocks (112 -> 56 -> 28 -> 14 -> 7), then
  // avgPool(7x7, stride 2, VALID) -> 1x1x256.
  x = DenseBlock4(*g, w, "dense0", x, true);
  x = DenseBlock4(*g, w, "dense1", x, false);
  x = DenseBlock4(*g, w, "dense2", x, false);
  x = DenseBlock4(*g, w, "dense3", x, false);
  x = g->Pool2D(Op::kAvgPool2D, "avg_pool", x, 7, 2, PadMode::kValid);
  // FaceProcessor.runNet(): as2D(batch, -1) then fullyConnectedLayer (matMul + bias). No
  // activation: the values are already in ~[0, 1] because the net was trained that way.
  NodeAttrs r;
  r.new_shape = {1, NumElements(g->values()[x].shape)};
  x = g->AddNode(Op::kReshape, "flatten", {x}, r);
  const int fw = Weight(*g, w, "fc/weights", {r.new_shape[1], 136});
  const int fb = Weight(*g, w, "fc/bias", {136});
  x = g->AddNode(Op::kFullyConnected, "fc", {x, fw, fb});
  g->AddOutput(x, "landmarks_raw");
  return g;
}

std::shared_ptr<Graph> BuildTinyFaceDetector(const WeightStore& w) {
  auto g = std::make_shared<Graph>();
  int x = g->AddInput("input", {1, 416, 416, 3});
  // TinyYolov2Base.runMobilenet() with TinyFaceDetector's config (isFirstLayerConv2d, 7 filter
  // sizes, so no conv6/conv7). conv0 is a VALID 3x3 conv: 416 -> 414.
  const int f0 = Weight(*g, w, "conv0/filters", {3, 3, 3, -1});
  const int b0 = Weight(*g, w, "conv0/bias", {g->values()[f0].shape[3]});
  x = Leaky(*g, "conv0/leaky", g->Conv2D("conv0", x, f0, b0, 1, PadMode::kValid));
  // Max pools are 2x2 SAME (414 -> 207 -> 104 -> 52 -> 26 -> 13, then stride 1 keeps 13). TF
  // pads max pools with -inf; XNNPACK's max pooling ignores padded positions, which is the same.
  x = g->Pool2D(Op::kMaxPool2D, "pool0", x, 2, 2, PadMode::kSame);
  // tinyYolov2/depthwiseSeparableConv.ts: tf.pad by 1 on H and W, then a VALID separable conv,
  // i.e. SAME for a 3x3 stride-1 kernel; + bias, leaky.
  for (int i = 1; i <= 5; ++i) {
    const std::string p = "conv" + std::to_string(i);
    x = Leaky(*g, p + "/leaky", SeparableConv(*g, w, p, x, 1, PadMode::kSame));
    x = g->Pool2D(Op::kMaxPool2D, "pool" + std::to_string(i), x, 2, i < 5 ? 2 : 1, PadMode::kSame);
  }
  // conv8: 1x1 VALID + bias, no activation: 5 anchors x 5 box encodings.
  const int f8 = Weight(*g, w, "conv8/filters", {1, 1, Channels(*g, x), 25});
  const int b8 = Weight(*g, w, "conv8/bias", {25});
  x = g->Conv2D("conv8", x, f8, b8, 1, PadMode::kValid);
  g->AddOutput(x, "output");
  return g;
}

std::shared_ptr<Graph> BuildSsdMobilenetV1(const WeightStore& w) {
  auto g = std::make_shared<Graph>();
  int x = g->AddInput("input", {1, 512, 512, 3});
  // mobileNetV1.ts: a 3x3/2 conv (512 -> 256), then 13 depthwise + pointwise pairs; the depthwise
  // convs of pairs 2, 4, 6 and 12 have stride 2 (256 -> 128 -> 64 -> 32 -> 16). Pair 11's output
  // (32x32x512) feeds the first box predictor.
  x = PointwiseConv(*g, w, "MobilenetV1/Conv2d_0_pointwise", x, 2);
  int conv11 = -1;
  for (int i = 1; i <= 13; ++i) {
    const std::string n = std::to_string(i);
    const int stride = (i == 2 || i == 4 || i == 6 || i == 12) ? 2 : 1;
    x = DepthwiseBatchNorm(*g, w, "MobilenetV1/Conv2d_" + n + "_depthwise", x, stride);
    x = PointwiseConv(*g, w, "MobilenetV1/Conv2d_" + n + "_pointwise", x, 1);
    if (i == 11) conv11 = x;
  }
  // predictionLayer.ts: extra feature layers, odd ones 3x3/2 (16 -> 8 -> 4 -> 2 -> 1).
  int conv[8];
  for (int i = 0; i < 8; ++i) {
    conv[i] = PointwiseConv(*g, w, "Prediction/Conv2d_" + std::to_string(i) + "_pointwise", i == 0 ? x : conv[i - 1],
                            i % 2 == 1 ? 2 : 1);
  }
  // boxPredictionLayer.ts: 1x1 convs + bias, reshaped to [1, -1, 1, 4] and [1, -1, 3].
  const int features[6] = {conv11, x, conv[1], conv[3], conv[5], conv[7]};
  std::vector<int> boxes, classes;
  for (int i = 0; i < 6; ++i) {
    const std::string p = "Prediction/BoxPredictor_" + std::to_string(i);
    const int f = features[i];
    const int64_t c = Channels(*g, f);
    auto head = [&](const std::string& name, int64_t per_anchor, Shape tail) {
      const int wt = Weight(*g, w, p + "/" + name + "/weights", {1, 1, c, -1});
      const int bs = Weight(*g, w, p + "/" + name + "/biases", {g->values()[wt].shape[3]});
      const int y = g->Conv2D(p + "/" + name, f, wt, bs, 1, PadMode::kSame);
      NodeAttrs r;
      r.new_shape = {1, NumElements(g->values()[y].shape) / per_anchor};
      r.new_shape.insert(r.new_shape.end(), tail.begin(), tail.end());
      return g->AddNode(Op::kReshape, p + "/" + name + "/reshape", {y}, r);
    };
    boxes.push_back(head("BoxEncodingPredictor", 4, {1, 4}));
    classes.push_back(head("ClassPredictor", 3, {3}));
  }
  NodeAttrs cat;
  cat.axis = 1;
  g->AddOutput(g->AddNode(Op::kConcat, "box_encodings", boxes, cat), "box_encodings_raw");
  g->AddOutput(g->AddNode(Op::kConcat, "class_logits", classes, cat), "class_logits_raw");
  return g;
}

SsdDetections DecodeSsdMobilenetV1(const WeightStore& w, const float* enc, const float* logits) {
  const WeightTensor& a = w.Get("Output/extra_dim");
  if (a.shape.size() != 3 || a.shape[0] != 1 || a.shape[2] != 4) Bad("'Output/extra_dim' has shape " + ShapeToString(a.shape));
  const int64_t n = a.shape[1];
  SsdDetections d;
  d.boxes.resize(n * 4);
  d.scores.resize(n);
  // outputLayer.ts decodeBoxesLayer(), one float32 rounding per tfjs op and in its order (the
  // anchors are [y1, x1, y2, x2]; encodings [ty, tx, th, tw] with TF's 10/10/5/5 scale factors).
  for (int64_t i = 0; i < n; ++i) {
    const float* v = &a.values[i * 4];
    const float* e = enc + i * 4;
    const float size0 = v[2] - v[0], size1 = v[3] - v[1];
    const float center0 = v[0] + size0 / 2.f, center1 = v[1] + size1 / 2.f;
    const float exp0 = static_cast<float>(std::exp(static_cast<double>(e[2] / 5.f)));
    const float exp1 = static_cast<float>(std::exp(static_cast<double>(e[3] / 5.f)));
    const float half0 = exp0 * size0 / 2.f, half1 = exp1 * size1 / 2.f;
    const float mid0 = e[0] / 10.f * size0 + center0, mid1 = e[1] / 10.f * size1 + center1;
    d.boxes[i * 4 + 0] = mid0 - half0;
    d.boxes[i * 4 + 1] = mid1 - half1;
    d.boxes[i * 4 + 2] = mid0 + half0;
    d.boxes[i * 4 + 3] = mid1 + half1;
    // tfjs's cpu sigmoid: 1 / (1 + exp(-x)) in double. Column 1 is the face class.
    d.scores[i] = static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(logits[i * 3 + 1]))));
  }
  return d;
}

}  // namespace idm::nn
