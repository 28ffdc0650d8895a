// The merged view of a main config file and its conf.d/*.toml drop-ins.
//
// Each file is parsed on its own (so every node keeps its file and line), then
// the documents are overlaid in order: tables merge key by key, arrays (the
// [[rotation]] entries) append, any other value of a later file replaces the
// earlier one. The parsed documents stay owned by ConfigSources, which the
// MergedNode tree points into.
#pragma once

#include <toml++/toml.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace eca {

struct ConfigDocument {
  std::string path;  // as shown in messages
  toml::table table;
};

struct MergedNode {
  const toml::node* node = nullptr;           // the defining node (a table: its first definition)
  const ConfigDocument* doc = nullptr;        // the file that defined `node`
  int key_line = 0;                           // line of the key that named this node
  std::map<std::string, MergedNode> members;  // when node is a table
  std::vector<MergedNode> items;  // when node is an array: elements of every file, in order

  int line() const { return node ? static_cast<int>(node->source().begin.line) : 0; }
  const MergedNode* find(const std::string& key) const {
    auto it = members.find(key);
    return it == members.end() ? nullptr : &it->second;
  }
};

struct SyntaxError {
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;
};

class ConfigSources {
 public:
  // Reads and parses one file. Returns false (and appends to `errors`) on I/O or
  // syntax errors. The file text is wiped from memory after parsing.
  bool add_file(const std::filesystem::path& file, std::vector<SyntaxError>& errors);

  // Lists conf.d/*.toml next to `main_file`, in lexical order (hidden files skipped).
  static std::vector<std::filesystem::path> drop_ins(const std::filesystem::path& main_file,
                                                     std::vector<SyntaxError>& errors);

  // Builds the merged tree over every file added so far.
  MergedNode merge() const;

  // Overwrites with zeros every string value stored under a key named in `keys`
  // (call before destruction so inline secrets do not linger in freed memory).
  void wipe_strings_named(const std::vector<std::string>& keys);

  const std::vector<std::unique_ptr<ConfigDocument>>& documents() const { return docs_; }

 private:
  std::vector<std::unique_ptr<ConfigDocument>> docs_;
};

}  // namespace eca
