// The capture page (web/) served by `idmatch serve`: GET / is web/index.html, GET /web/<path> any
// other file of web/. Files are read once at start-up into memory; a request is a lookup in that
// table and never touches the filesystem, so no path (../, %2e%2e, symlinks) can reach anything
// else. Only known extensions are served, each with its content type, plus security headers.
#pragma once

#include <cstddef>
#include <string>

namespace httplib {
class Server;
}

namespace idm::server {

// $IDMATCH_WEB_DIR, else the source tree's web/ (next to layouts/), else web/ beside or above
// the executable, else "web".
std::string DefaultWebRoot();

// Registers GET / and GET /web/(.+) on `server`. Returns the number of files served; 0 when
// `root` has no index.html (then nothing is registered and / stays a 404).
size_t MountStaticFiles(httplib::Server& server, const std::string& root);

}  // namespace idm::server
