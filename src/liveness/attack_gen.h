// Presentation-attack generator for tests and evaluation: from a still face image, the clips a
// fraudster would produce. Everything stays in memory (no face image is ever written to disk).
//
//  * printed photo held up and moved rigidly: the print (paper margin, ink gamut, paper grain) on
//    a plane in front of a pinhole camera, rotated / brought closer to mimic each requested
//    action, with hand tremor, re-captured (blur, sensor noise, JPEG);
//  * photo on a phone: the same motion, the picture shown on a screen (subpixel RGB grid that
//    aliases into moire on re-capture, screen gamma, bezel and phone body, a reflection band);
//  * a cut to another person: the first photo, then a second one half way;
//  * (a replay answering the wrong challenge needs a real clip: see the tests.)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "liveness/challenge.h"

namespace idm::liveness {

enum class AttackSpecies { kPrintedPhoto, kPhoneScreen, kCutToOther };
const char* AttackSpeciesName(AttackSpecies s);  // "printed_photo", "phone_screen", "cut_to_other_person"

struct Clip {
  std::vector<cv::Mat> frames;  // 8-bit RGB
  std::vector<int64_t> t_ms;
};

struct AttackOptions {
  int width = 320, height = 240;  // camera frame
  int fps = 15;
  int64_t start_ms = 0;
  int64_t rest_ms = 500;          // still at the start
  int64_t action_ms = 1400;       // per mimicked action (movement and return)
  float tremor = 1.f;             // hand tremor scale (0: perfectly still hand)
};

// The photo-based attacks. `photo` (8-bit RGB) is the face picture; `other` is used only by
// kCutToOther. `mimic` are the actions the attacker tries to imitate by moving the picture.
Clip MakeAttack(AttackSpecies species, const cv::Mat& photo, const std::vector<Action>& mimic, uint64_t seed,
                const AttackOptions& options = {}, const cv::Mat& other = cv::Mat());

// A single re-captured frame of the picture at rest (for the passive check).
cv::Mat MakeAttackFrame(AttackSpecies species, const cv::Mat& photo, uint64_t seed, const AttackOptions& options = {});

}  // namespace idm::liveness
