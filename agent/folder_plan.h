// FolderPlan: the Infisical folders a burst of rotations needs, created before its workers
// start. Infisical creates missing parents without atomicity and does not keep folder names
// unique, so two parallel creates under one new parent duplicate the parent (issue 14);
// creating the missing folders one at a time, before any worker runs, cannot.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "agent/config.h"
#include "agent/logger.h"
#include "clients/infisical_api.h"

namespace eca {

// The deepest folder all `paths` share ("/" when none).
std::string common_parent(const std::vector<std::string>& paths);
// The same, except that it may be one of `paths` itself ("/a" for "/a" and "/a/b"): the
// folder whose recursive listing holds them all.
std::string common_folder(const std::vector<std::string>& paths);

// The folders to create, in order, before the workers start: the missing folders above
// the wanted ones (what their parallel creates would share and duplicate), deepest only
// (creating a folder creates its missing parents). The wanted folders themselves are then
// created by each rotation's proof, in parallel but under parents that exist, which
// Infisical handles; so each missing folder is created once and nothing is created twice.
std::vector<std::string> folders_to_create(const std::vector<std::string>& wanted,
                                           const std::set<std::string>& existing);

// One recursive folder listing under the rotations' common parent, then one create per
// folder of folders_to_create, one at a time. Nothing to do for a single rotation (its own proof
// creates its folder, alone). Failures are logged and left to each rotation's own proof, which
// reports them with the config key to check.
void prepare_folders(InfisicalApi& infisical, const std::vector<const RotationSettings*>& todo,
                     Logger& log);

}  // namespace eca
