// lmbench_models.cc — the benchmark harness's options helpers, the models of models.tsv
// (bench/gen_models.py) and their rows (lmbench.h).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "bench/lmbench.h"

namespace lmb {

Options g_opt;
std::vector<ModelSpec> g_models;

std::vector<std::string> split(const std::string &s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep))
    if (!item.empty()) out.push_back(item);
  return out;
}

bool has(const std::vector<std::string> &v, const std::string &x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

[[noreturn]] void die(const std::string &msg) {
  fprintf(stderr, "lmbench: %s\n", msg.c_str());
  exit(2);
}

// models.tsv: columns looked up by the header's names (bench/gen_models.py documents them).
std::vector<ModelSpec> read_manifest() {
  std::string path = g_opt.models + "/models.tsv";
  std::ifstream in(path);
  if (!in)
    die(path + ": cannot open (generate the models: /usr/bin/python3 bench/gen_models.py)");
  std::vector<ModelSpec> out;
  std::string line;
  std::getline(in, line);
  std::vector<std::string> hdr = split(line, '\t');
  for (const char *need : {"name", "kind", "booster", "objective", "features", "outputs", "trees",
                           "max_depth", "rows_file", "pool_rows"})
    if (!has(hdr, need)) die(path + ": header lacks column " + need);
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<std::string> f;
    {  // keep empty fields: split() would drop them
      size_t a = 0, b;
      while ((b = line.find('\t', a)) != std::string::npos) {
        f.push_back(line.substr(a, b - a));
        a = b + 1;
      }
      f.push_back(line.substr(a));
    }
    if (f.size() != hdr.size()) die(path + ": malformed line: " + line);
    ModelSpec m;
    for (size_t i = 0; i < hdr.size(); i++) m.cols[hdr[i]] = f[i];
    auto num = [&](const char *k, size_t dflt) -> size_t {
      auto it = m.cols.find(k);
      if (it == m.cols.end() || it->second.empty() || it->second == "-") return dflt;
      return std::stoul(it->second);
    };
    auto str = [&](const char *k, const std::string &dflt) -> std::string {
      auto it = m.cols.find(k);
      return it == m.cols.end() || it->second.empty() ? dflt : it->second;
    };
    m.name = str("name", "");
    m.kind = str("kind", "");
    m.booster = str("booster", "");
    m.objective = str("objective", "");
    m.features = num("features", 0);
    m.outputs = num("outputs", 0);
    m.trees = num("trees", 0);
    m.depth = num("max_depth", 0);
    m.rows_file = str("rows_file", "");
    m.pool_rows = num("pool_rows", 0);
    m.source = str("source", m.name + ".json");
    m.xgb_model = str("xgb_model", m.name + ".json");
    m.xgb_trees = num("xgb_trees", m.trees);
    m.max_batch = num("max_batch", 0);
    m.group = str("group", "core");
    m.trainer = str("trainer", "");
    m.parity = str("parity", "xgboost");
    out.push_back(m);
  }
  return out;
}

// The model's manifest line as a JSON object (a custom context entry "model.<name>" of the
// results file: bench/compare and bench/report read the zoo's shapes from it).
std::string json_escape(const std::string &s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if ((unsigned char)c < 0x20) continue;
    o += c;
  }
  return o;
}
std::string model_context(const ModelSpec &m) {
  std::string o = "{";
  bool first = true;
  for (auto &kv : m.cols) {
    o += (first ? "\"" : ", \"") + json_escape(kv.first) + "\": \"" + json_escape(kv.second) + "\"";
    first = false;
  }
  return o + "}";
}

std::map<std::string, std::unique_ptr<Rows>> g_rows;

Rows &rows_for(const ModelSpec &m) {
  auto &slot = g_rows[m.rows_file];
  if (!slot) {
    slot.reset(new Rows);
    std::string path = g_opt.models + "/" + m.rows_file;
    FILE *fp = fopen(path.c_str(), "rb");
    if (!fp) die(path + ": cannot open");
    slot->F = m.features;
    slot->n = m.pool_rows;
    slot->pool.resize(m.features * m.pool_rows);
    size_t got = fread(slot->pool.data(), sizeof(float), slot->pool.size(), fp);
    fclose(fp);
    if (got != slot->pool.size()) die(path + ": short file");
  }
  return *slot;
}

}  // namespace lmb
