#include "server/static_files.h"

#include <httplib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

namespace idm::server {

namespace fs = std::filesystem;

namespace {

struct File {
  std::string type, body;
};

const char* ContentType(const std::string& ext) {
  static const std::map<std::string, const char*> kTypes = {
      {".html", "text/html; charset=utf-8"},       {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},  {".css", "text/css; charset=utf-8"},
      {".json", "application/json; charset=utf-8"}, {".svg", "image/svg+xml"},
      {".png", "image/png"},                        {".jpg", "image/jpeg"},
      {".ico", "image/x-icon"},                     {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},        {".webmanifest", "application/manifest+json"}};
  auto it = kTypes.find(ext);
  return it == kTypes.end() ? nullptr : it->second;
}

void SetHeaders(httplib::Response& res) {
  res.set_header("Content-Security-Policy",
                 "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
                 "media-src 'self' blob: mediastream:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
                 "form-action 'none'; frame-ancestors 'none'");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Permissions-Policy", "camera=(self), microphone=(), geolocation=()");
  res.set_header("Cache-Control", "no-cache");
}

}  // namespace

std::string DefaultWebRoot() {
  if (const char* env = std::getenv("IDMATCH_WEB_DIR"); env != nullptr && *env != '\0') return env;
  std::error_code ec;
#ifdef IDMATCH_WEB_DIR
  if (fs::is_directory(IDMATCH_WEB_DIR, ec)) return IDMATCH_WEB_DIR;
#endif
#ifdef IDMATCH_LAYOUT_DIR
  if (const fs::path p = fs::path(IDMATCH_LAYOUT_DIR).parent_path() / "web"; fs::is_directory(p, ec)) return p.string();
#endif
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (const fs::path& p : {exe.parent_path() / "web", exe.parent_path().parent_path() / "web"})
      if (fs::is_regular_file(p / "index.html", ec)) return p.string();
  }
  return "web";
}

size_t MountStaticFiles(httplib::Server& server, const std::string& root) {
  auto files = std::make_shared<std::map<std::string, File>>();
  std::error_code ec;
  if (!fs::is_regular_file(fs::path(root) / "index.html", ec)) return 0;
  constexpr uintmax_t kMaxFile = 4u << 20;
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::path& p = it->path();
    const std::string name = p.filename().string();
    if (!name.empty() && name[0] == '.') {  // dotfiles and dot-directories are never served
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;  // symlinks are not followed
    const char* type = ContentType(p.extension().string());
    if (type == nullptr || it->file_size(ec) > kMaxFile) continue;
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    (*files)[fs::relative(p, root, ec).generic_string()] = File{type, ss.str()};
  }
  if (files->count("index.html") == 0) return 0;
  auto serve = [files](const std::string& key, httplib::Response& res) {
    auto f = files->find(key);
    if (f == files->end()) {
      res.status = 404;
      res.set_content(R"({"code":"not_found","message":"no such file"})", "application/json");
      return;
    }
    SetHeaders(res);
    res.set_content(f->second.body, f->second.type.c_str());
  };
  server.Get("/", [serve](const httplib::Request&, httplib::Response& res) { serve("index.html", res); });
  server.Get("/index.html", [serve](const httplib::Request&, httplib::Response& res) { serve("index.html", res); });
  server.Get(R"(/web/([A-Za-z0-9_./-]+))", [serve](const httplib::Request& req, httplib::Response& res) {
    serve(req.matches[1].str(), res);
  });
  return files->size();
}

}  // namespace idm::server
