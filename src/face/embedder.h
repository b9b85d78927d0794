// Face embedders: an aligned crop in, a unit-length vector out; cosine similarity compares them.
#pragma once

#include <memory>
#include <string>

#include <opencv2/core.hpp>

#include "core/secure_memory.h"
#include "face/mesh.h"
#include "nn/model.h"

namespace idm::face {

using Embedding = SecureVector<float>;

class Embedder {
 public:
  virtual ~Embedder() = default;
  virtual std::string name() const = 0;
  virtual int dims() const = 0;
  // `rgb` is the 8-bit RGB frame, `frame` the same as float; `mesh` locates the face.
  virtual Embedding Embed(const cv::Mat& rgb, const FloatImage& frame, const FaceMesh& mesh) const = 0;
  virtual const nn::Model& model() const = 0;
};

// face-api's ResNet-128 (dlib's metric-learning ResNet) on dlib's 150 px aligned chip; the
// landmarks come from face-api's 68-point net, or with `mesh_landmarks` from the MediaPipe mesh;
// `flip` adds the mirrored chip's embedding (test-time augmentation).
std::unique_ptr<Embedder> MakeResNet128Embedder(bool mesh_landmarks, bool flip, int threads = 1);
// "resnet128-noflip" running on `resnet`'s runtime, so that a worker needing both kinds of
// embedding holds the ResNet's packed weights (~65 MB) once; nullptr unless `resnet` is one of
// the ResNet-128 embedders (any landmarks, mirrored or not). The two share one runtime: calls are
// serialised, not concurrent.
std::unique_ptr<Embedder> MakeResNet128NoFlipSharing(const Embedder& resnet);
// Human's faceres (1024-D). `aligned`: rotate the crop to level the eyes (Human does not).
std::unique_ptr<Embedder> MakeFaceResEmbedder(bool aligned, int threads = 1);
// By name: "resnet128" (default: mesh landmarks, flip), "resnet128-noflip", "resnet128-lm68"
// (face-api's 68-point net for the landmarks), "mobileface", "faceres", "faceres-aligned".
// docs/results.md has their LFW numbers.
std::unique_ptr<Embedder> MakeEmbedder(const std::string& name, int threads = 1);

// Cosine similarity of two embeddings (both are unit length, so a dot product).
float CosineSimilarity(const Embedding& a, const Embedding& b);
// In place L2 normalisation.
void L2Normalize(Embedding& v);

}  // namespace idm::face
