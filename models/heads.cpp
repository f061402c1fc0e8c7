#include "models/heads.h"

#include <fmt/format.h>

#include <stdexcept>

namespace attnlab {
namespace {

// The kind of the attention at `path`, from where it sits: its stack and
// whether it is a block's self- or cross-attention.
std::string kind_of(const std::string& path) {
  const auto starts = [&](const char* prefix) { return path.rfind(prefix, 0) == 0; };
  const bool cross = path.size() >= 10 && path.compare(path.size() - 10, 10, "cross_attn") == 0;
  if (path == "cross_attn") return "latent cross";  // the Perceiver's read of its input
  if (cross) return "cross";
  if (starts("encoder/")) return "encoder self";
  if (starts("decoder/")) return "decoder self";
  if (starts("latent/")) return "latent self";
  throw std::logic_error(fmt::format("attention at '{}' is of no known kind", path));
}

// N of ".../layers/N/...", 0 when the path has none.
int64_t layer_of(const std::string& path) {
  const size_t at = path.find("layers/");
  return at == std::string::npos ? 0 : std::stoll(path.substr(at + 7));
}

}  // namespace

std::vector<AttentionModule> attention_sites(Model& model) {
  std::vector<AttentionModule> sites;
  for (const auto& [path, module] : model.named_modules())
    if (auto* attention = dynamic_cast<MultiHeadAttention*>(module))
      sites.push_back({path, kind_of(path), layer_of(path), attention});
  return sites;
}

std::vector<BlockModule> block_modules(Model& model) {
  std::vector<BlockModule> blocks;
  for (const auto& [path, module] : model.named_modules())
    if (auto* block = dynamic_cast<TransformerBlock*>(module))
      blocks.push_back({path, path.substr(0, path.find('/')), layer_of(path), block});
  return blocks;
}

}  // namespace attnlab
