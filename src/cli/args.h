// A deliberately tiny flag parser: --name value, --flag, and positional words.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/error.h"

namespace idm::cli {

class Args {
 public:
  // `flags` lists the options that take no value.
  Args(int argc, char** argv, int first, const std::vector<std::string>& flags) {
    for (int i = first; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("--", 0) != 0) {
        positional_.push_back(a);
        continue;
      }
      a = a.substr(2);
      if (const auto eq = a.find('='); eq != std::string::npos) {
        values_[a.substr(0, eq)] = a.substr(eq + 1);
      } else if (std::find(flags.begin(), flags.end(), a) != flags.end()) {
        values_[a] = "1";
      } else if (i + 1 < argc) {
        values_[a] = argv[++i];
      } else {
        throw Error(ErrorCode::kInvalidArgument, "option --" + a + " needs a value");
      }
    }
  }
  bool Has(const std::string& k) const { return values_.count(k) > 0; }
  std::string Get(const std::string& k, const std::string& def = "") const {
    auto it = values_.find(k);
    return it == values_.end() ? def : it->second;
  }
  std::string Require(const std::string& k) const {
    if (!Has(k)) throw Error(ErrorCode::kInvalidArgument, "missing required option --" + k);
    return Get(k);
  }
  int GetInt(const std::string& k, int def) const {
    if (!Has(k)) return def;
    try {
      return std::stoi(Get(k));
    } catch (const std::exception&) {
      throw Error(ErrorCode::kInvalidArgument, "--" + k + " takes a whole number");
    }
  }
  // Rejects options the command does not know, so a typo is not silently ignored.
  void AllowOnly(const std::vector<std::string>& known) const {
    for (const auto& [k, v] : values_) {
      if (std::find(known.begin(), known.end(), k) == known.end()) throw Error(ErrorCode::kInvalidArgument, "unknown option --" + k);
    }
  }
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace idm::cli
