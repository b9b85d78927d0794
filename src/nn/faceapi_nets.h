// face-api's weight-only nets, declared in code with the Graph builder.
//
// face-api (@vladmandic/face-api 1.7.15) ships only weights for these nets; the layer structure
// lives in its JavaScript (src/faceRecognitionNet, src/faceFeatureExtractor + src/faceLandmarkNet,
// src/tinyYolov2 + src/tinyFaceDetector). The builders below mirror that code op for op, so the
// outputs match face-api's own to float32 rounding.
//
// Each graph's input is the tensor face-api hands to its first convolution, i.e. the already
// normalised image ((rgb - mean) / 255): the normalisation is preprocessing, not part of the graph.
#pragma once

#include <memory>
#include <vector>

#include "nn/graph.h"
#include "nn/tfjs_weights.h"

namespace idm::nn {

// ResNet-34-like descriptor net (dlib's architecture).
// Input "input" [batch,150,150,3] -> output "descriptor" [batch,128] (not L2-normalised).
std::shared_ptr<Graph> BuildFaceRecognitionNet(const WeightStore& w, int batch = 1);

// 68-point landmark net: four depthwise-separable dense blocks, 7x7 average pool, fully connected.
// Input "input" [1,112,112,3] -> output "landmarks_raw" [1,136] = x0,y0,x1,y1,... relative to the
// 112x112 padded square (the raw fully-connected output, before face-api's un-padding).
std::shared_ptr<Graph> BuildFaceLandmark68Net(const WeightStore& w);

// Tiny YOLOv2-style face detector with separable convolutions and leaky ReLU.
// Input "input" [1,416,416,3] -> output "output" [1,13,13,25]: 13x13 cells x 5 anchors x
// [tx, ty, tw, th, score logit], undecoded.
std::shared_ptr<Graph> BuildTinyFaceDetector(const WeightStore& w);

// SSD MobileNetV1 face detector (MobileNetV1 backbone + 6 SSD box predictors).
// Input "input" [1,512,512,3] in [-1, 1] -> outputs "box_encodings_raw" [1,5118,1,4] (ty, tx, th,
// tw per anchor) and "class_logits_raw" [1,5118,3], the six predictor heads concatenated in
// face-api's order (32x32x3, 16x16x6, 8x8x6, 4x4x6, 2x2x6, 1x1x6 anchors).
std::shared_ptr<Graph> BuildSsdMobilenetV1(const WeightStore& w);

// face-api's ssdMobilenetv1/outputLayer.ts on one image: box encodings decoded against the anchors
// stored in the weight "Output/extra_dim", and the face score sigmoid(class logit 1).
struct SsdDetections {
  std::vector<float> boxes;   // [N, 4]: y1, x1, y2, x2 relative to the 512x512 padded square
  std::vector<float> scores;  // [N]
};
SsdDetections DecodeSsdMobilenetV1(const WeightStore& w, const float* box_encodings, const float* class_logits);

}  // namespace idm::nn
