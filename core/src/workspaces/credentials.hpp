// credentials.hpp: which entries of a source tree are the user's credentials
// and must never appear inside a workspace, whatever the creation mode.
#pragma once

#include <string>

namespace isb::workspaces {

//! True for .ssh, .gnupg, .aws, .netrc, .git-credentials, .pgpass at any
//! depth and for .docker/config.json. rel is "/"-separated and relative.
bool is_credential(const std::string& rel);

//! True when rel or any directory above it is a credential (for paths that
//! arrive whole, such as archive entries, rather than by a walk).
bool is_within_credential(const std::string& rel);

}  // namespace isb::workspaces
