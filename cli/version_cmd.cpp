// `troupe version`: troupe's version and the versions of the libraries it was
// built with and runs against (read at run time where the library can say).
#include <caf/config.hpp>
#include <flatbuffers/base.h>
#include <rocksdb/version.h>
#include <ucp/api/ucp.h>
#include <yaml-cpp/yaml.h>

#include <iostream>
#include <string>

#include "cli/command.hpp"

namespace troupe::cli {
namespace {

std::string dotted(int major, int minor, int patch) {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

void setup(CLI::App& root, int& /*exit_code*/) {
  auto* cmd = root.add_subcommand("version", "Print troupe's version and the versions of its libraries");
  cmd->callback([] {
    unsigned ucx_major = 0, ucx_minor = 0, ucx_release = 0;
    ucp_get_version(&ucx_major, &ucx_minor, &ucx_release);
    std::cout << "troupe " << TROUPE_VERSION << "\n"
              << "  CAF            " << dotted(CAF_MAJOR_VERSION, CAF_MINOR_VERSION, CAF_PATCH_VERSION) << "\n"
              << "  UCX            " << dotted(static_cast<int>(ucx_major), static_cast<int>(ucx_minor),
                                                static_cast<int>(ucx_release)) << "\n"
              << "  RocksDB        " << rocksdb::GetRocksVersionAsString(true) << "\n"
              << "  FlatBuffers    " << dotted(FLATBUFFERS_VERSION_MAJOR, FLATBUFFERS_VERSION_MINOR,
                                                FLATBUFFERS_VERSION_REVISION) << "\n"
              << "  prometheus-cpp " << TROUPE_PROMETHEUS_CPP_VERSION << "\n";
  });
}

TROUPE_REGISTER_COMMAND("version", 90, setup);

}  // namespace
}  // namespace troupe::cli
