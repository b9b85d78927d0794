#include "face/embedder.h"

#include <cmath>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "face/align.h"
#include "face/landmarks68.h"
#include "nn/faceapi_nets.h"
#include "nn/tfjs_weights.h"

namespace idm::face {

void L2Normalize(Embedding& v) {
  double n = 0;
  for (float x : v) n += static_cast<double>(x) * x;
  const float inv = n > 0 ? static_cast<float>(1.0 / std::sqrt(n)) : 0.f;
  for (float& x : v) x *= inv;
}

float CosineSimilarity(const Embedding& a, const Embedding& b) {
  if (a.size() != b.size() || a.empty()) throw Error(ErrorCode::kInvalidArgument, "embeddings of different models cannot be compared");
  double dot = 0;
  for (size_t i = 0; i < a.size(); ++i) dot += static_cast<double>(a[i]) * b[i];
  return static_cast<float>(dot);
}

namespace {

class ResNet128 final : public Embedder {
 public:
  // `mesh_landmarks`: read dlib's points off the MediaPipe mesh instead of running face-api's
  // 68-point net. `flip`: also embed the mirror image of the chip and sum the two (test-time
  // augmentation; +0.5 point of LFW accuracy). The runtime takes one chip at a time: two runs
  // cost no more than one batch of two, and one runtime then serves both kinds of embedder.
  ResNet128(bool mesh_landmarks, bool flip, int threads) : flip_(flip) {
    if (!mesh_landmarks) lm68_ = std::make_unique<Landmark68Model>(threads);
    const std::string manifest = nn::ModelRoot() + "/face-api/model/face_recognition_model-weights_manifest.json";
    model_ = nn::Model::FromWeightManifest(
        "faceapi-resnet128", manifest, [](const nn::WeightStore& w) { return nn::BuildFaceRecognitionNet(w, 1); },
        threads, "batch=1");
  }
  // Mesh landmarks, with or without the mirror, on `other`'s runtime (its weights are not loaded
  // again), whichever landmarks `other` reads.
  ResNet128(const ResNet128& other, bool flip) : flip_(flip), model_(other.model_) {}

  std::string name() const override {
    return std::string(lm68_ ? "resnet128-lm68" : "resnet128") + (flip_ ? "" : "-noflip");
  }
  int dims() const override { return 128; }
  const nn::Model& model() const override { return *model_; }

  Embedding Embed(const cv::Mat& rgb, const FloatImage&, const FaceMesh& mesh) const override {
    const Landmarks68 lm = lm68_ ? lm68_->Run(rgb, TightBoxFromMesh(mesh)) : MeshToLandmarks68(mesh);
    const cv::Mat chip = WarpChip(rgb, DlibChipTransform(lm, kSize, 0.25), kSize);
    Embedding e = Run(chip);
    if (flip_) {
      cv::Mat mirrored;
      cv::flip(chip, mirrored, 1);
      const Embedding m = Run(mirrored);
      for (int i = 0; i < kDims; ++i) e[i] += m[i];
    }
    L2Normalize(e);
    return e;
  }

 private:
  Embedding Run(const cv::Mat& chip) const {
    FloatImage x = ToFloat(chip);
    // face-api's normalisation of dlib's input layer: (pixel - mean) / 255 per channel.
    const float mean[3] = {122.782f, 117.001f, 104.298f};
    Normalize(x, mean, 255.f, 0.f);
    auto out = const_cast<nn::Model&>(*model_).Run({x.data.data()});
    return Embedding(out[0].begin(), out[0].begin() + kDims);
  }

  static constexpr int kSize = 150, kDims = 128;
  bool flip_;
  std::shared_ptr<nn::Model> model_;
  std::unique_ptr<Landmark68Model> lm68_;
};

class FaceRes final : public Embedder {
 public:
  FaceRes(bool aligned, int threads) : aligned_(aligned) {
    nn::TfjsLoadOptions opt;
    opt.outputs = {"global_pooling/Mean"};
    model_ = nn::Model::FromTfjs("human-faceres", nn::ModelRoot() + "/human-models/models/faceres.json", opt, threads);
  }
  std::string name() const override { return aligned_ ? "faceres-aligned" : "faceres"; }
  int dims() const override { return 1024; }
  const nn::Model& model() const override { return *model_; }

  Embedding Embed(const cv::Mat& rgb, const FloatImage& frame, const FaceMesh& mesh) const override {
    FloatImage x;
    if (aligned_) {
      // The same framing as Human's crop (the mesh crop box), rotated so the eyes are level.
      const cv::Point3f re = (mesh.points[33] + mesh.points[133]) * 0.5f, le = (mesh.points[362] + mesh.points[263]) * 0.5f;
      const double angle = std::atan2(le.y - re.y, le.x - re.x) * 180.0 / CV_PI;
      const cv::Point2f c(mesh.crop.x + mesh.crop.width / 2, mesh.crop.y + mesh.crop.height / 2);
      cv::Matx23d m = cv::getRotationMatrix2D(c, angle, kSize / mesh.crop.width);
      m(0, 2) += kSize / 2.0 - c.x;
      m(1, 2) += kSize / 2.0 - c.y;
      x = ToFloat(WarpChip(rgb, m, kSize));
    } else {
      // Human: 192 px crop at the mesh box (/255), resized to 224, times 255.
      const float H = static_cast<float>(frame.height), W = static_cast<float>(frame.width);
      const cv::Rect2f& b = mesh.crop;
      FloatImage crop = CropAndResizeTf(frame, b.y / H, b.x / W, (b.y + b.height) / H, (b.x + b.width) / W, 192, 192);
      const float zero[3] = {0, 0, 0};
      Normalize(crop, zero, 255.f, 0.f);
      x = ResizeBilinearTf(crop, kSize, kSize);
      for (float& v : x.data) v *= 255.f;
    }
    auto out = const_cast<nn::Model&>(*model_).Run({x.data.data()});
    Embedding e(out[0].begin(), out[0].end());
    L2Normalize(e);
    return e;
  }

 private:
  static constexpr int kSize = 224;
  bool aligned_;
  std::unique_ptr<nn::Model> model_;
};

// InsightFace-style 112 px embedder (mobileface). Human feeds it its unaligned [0,1] crop, on
// which it returns nearly the same vector for every face; it was trained on ArcFace's 5-point
// aligned chips in 0..255 RGB (its graph subtracts 127.5 and scales by 1/128 itself). On LFW:
// 94.2% (RGB) vs 90.6% (BGR). mobilefacenet found no working preprocessing (60% on LFW with
// (x-127.5)/128, RGB or BGR), so it is not offered as an embedder; see docs/results.md.
class Arc112 final : public Embedder {
 public:
  Arc112(std::string name, const std::string& file, const std::string& output, int threads) : name_(std::move(name)) {
    nn::TfjsLoadOptions opt;
    opt.outputs = {output};
    model_ = nn::Model::FromTfjs("human-" + file, nn::ModelRoot() + "/human-models/models/" + file + ".json", opt, threads);
    dims_ = static_cast<int>(nn::NumElements(model_->graph().values()[model_->graph().outputs()[0]].shape));
  }
  std::string name() const override { return name_; }
  int dims() const override { return dims_; }
  const nn::Model& model() const override { return *model_; }

  Embedding Embed(const cv::Mat& rgb, const FloatImage&, const FaceMesh& mesh) const override {
    // ArcFace's reference points for a 112x112 chip: eye centres, nose tip, mouth corners.
    static const cv::Point2f kTemplate[5] = {
        {38.2946f, 51.6963f}, {73.5318f, 51.5014f}, {56.0252f, 71.7366f}, {41.5493f, 92.3655f}, {70.7299f, 92.2041f}};
    auto mid = [&](int a, int b) {
      return cv::Point2f((mesh.points[a].x + mesh.points[b].x) / 2, (mesh.points[a].y + mesh.points[b].y) / 2);
    };
    const std::vector<cv::Point2f> from = {mid(33, 133), mid(362, 263), {mesh.points[4].x, mesh.points[4].y},
                                           {mesh.points[61].x, mesh.points[61].y}, {mesh.points[291].x, mesh.points[291].y}};
    const cv::Mat chip = WarpChip(rgb, EstimateSimilarity(from, std::vector<cv::Point2f>(kTemplate, kTemplate + 5)), 112);
    FloatImage x = ToFloat(chip);
    auto out = const_cast<nn::Model&>(*model_).Run({x.data.data()});
    Embedding e(out[0].begin(), out[0].end());
    L2Normalize(e);
    return e;
  }

 private:
  std::string name_;
  int dims_ = 0;
  std::unique_ptr<nn::Model> model_;
};

}  // namespace

std::unique_ptr<Embedder> MakeResNet128Embedder(bool mesh_landmarks, bool flip, int threads) {
  return std::make_unique<ResNet128>(mesh_landmarks, flip, threads);
}
std::unique_ptr<Embedder> MakeResNet128NoFlipSharing(const Embedder& resnet) {
  const auto* r = dynamic_cast<const ResNet128*>(&resnet);
  if (r == nullptr) return nullptr;  // not the ResNet: nothing to share
  return std::make_unique<ResNet128>(*r, false);
}
std::unique_ptr<Embedder> MakeFaceResEmbedder(bool aligned, int threads) { return std::make_unique<FaceRes>(aligned, threads); }

std::unique_ptr<Embedder> MakeEmbedder(const std::string& name, int threads) {
  if (name == "resnet128") return MakeResNet128Embedder(true, true, threads);
  if (name == "resnet128-noflip") return MakeResNet128Embedder(true, false, threads);
  if (name == "resnet128-lm68") return MakeResNet128Embedder(false, true, threads);
  if (name == "mobileface") return std::make_unique<Arc112>(name, "mobileface", "batchnorm0/add_1:0", threads);
  if (name == "faceres") return MakeFaceResEmbedder(false, threads);
  if (name == "faceres-aligned") return MakeFaceResEmbedder(true, threads);
  throw Error(ErrorCode::kInvalidArgument, "unknown embedder '" + name + "' (resnet128, resnet128-noflip, resnet128-lm68, mobileface, faceres, faceres-aligned)");
}

}  // namespace idm::face
