#include "pipeline/conditioning.h"

#include <ATen/ATen.h>

#include "prompt/emphasis.h"

namespace sdxl::pipeline {
namespace {

constexpr std::size_t kChunk = 75;
constexpr std::size_t kCommaBacktrack = 20;  // A1111's default "comma_padding_backtrack"

// Encodes framed chunks of several prompts: ids [B, 77] per encoder, per-token weights [B, 77].
struct Encoded {
  at::Tensor embeds;  // [B, 77, D]
  at::Tensor pooled;  // [B, P]
};

sdk::Result<Encoded> encode_window(const models::clip::SdxlTextEncoders& enc, const at::Tensor& ids1,
                                   const at::Tensor& ids2, const at::Tensor& weights) {
  auto out = enc.encode(ids1, ids2);
  if (!out.ok()) return out.status();
  at::Tensor z = out.value().prompt_embeds;
  if (weights.defined()) {
    // Weight each token, then restore each encoder's mean (A1111 "Original" emphasis).
    at::Tensor w = weights.to(z.device(), z.scalar_type()).unsqueeze(-1);  // [B, 77, 1]
    std::vector<at::Tensor> parts;
    std::vector<at::Tensor> per_encoder = {z};  // the refiner: te2 only
    if (enc.has_te1()) {
      const auto w1 = enc.te1().config().hidden;
      per_encoder = {z.slice(-1, 0, w1), z.slice(-1, w1)};
    }
    for (const auto& part : per_encoder) {
      at::Tensor mean_before = part.to(at::kFloat).mean();
      at::Tensor weighted = part * w;
      at::Tensor mean_after = weighted.to(at::kFloat).mean();
      parts.push_back(weighted * (mean_before / mean_after).to(part.scalar_type()));
    }
    z = at::cat(parts, -1);
  }
  return Encoded{z, out.value().pooled};
}

std::vector<std::int64_t> frame(const std::vector<std::int32_t>& bpe, std::int32_t pad) {
  return tokenizer::ClipTokenizer::frame(bpe, pad);
}

}  // namespace

sdk::Result<std::vector<TokenChunk>> a1111_chunks(const tokenizer::ClipTokenizer& tok, const std::string& prompt) {
  auto comma = tok.bpe_ids(",");
  if (!comma.ok()) return comma.status();
  const std::int32_t comma_id = comma.value().empty() ? -1 : comma.value().back();
  std::vector<TokenChunk> chunks;
  TokenChunk cur;
  auto close = [&] {
    chunks.push_back(std::move(cur));
    cur = TokenChunk{};
  };
  for (const auto& f : prompt::parse_emphasis(prompt)) {
    if (f.is_break) {
      close();
      continue;
    }
    auto ids = tok.bpe_ids(f.text);
    if (!ids.ok()) return ids.status();
    for (auto id : ids.value()) {
      if (cur.bpe.size() == kChunk) {
        // Full: cut after the last comma if it is close to the end, carrying the tail over.
        TokenChunk carry;
        for (std::size_t i = cur.bpe.size(); i-- > 0;) {
          if (cur.bpe[i] != comma_id) continue;
          if (cur.bpe.size() - (i + 1) <= kCommaBacktrack && i + 1 < cur.bpe.size()) {
            carry.bpe.assign(cur.bpe.begin() + static_cast<long>(i) + 1, cur.bpe.end());
            carry.weights.assign(cur.weights.begin() + static_cast<long>(i) + 1, cur.weights.end());
            cur.bpe.resize(i + 1);
            cur.weights.resize(i + 1);
          }
          break;
        }
        close();
        cur = std::move(carry);
      }
      cur.bpe.push_back(id);
      cur.weights.push_back(f.weight);
    }
  }
  if (!cur.bpe.empty() || chunks.empty()) close();
  return chunks;
}

sdk::Result<Conditioning> encode_prompts(const tokenizer::SdxlTokenizers& tokenizers,
                                         const models::clip::SdxlTextEncoders& encoders, const PromptInput& in) {
  const auto batch = static_cast<std::int64_t>(in.prompts.size());
  if (batch == 0) return sdk::invalid_argument("no prompt given");
  if (!in.negatives.empty() && in.negatives.size() != in.prompts.size())
    return sdk::invalid_argument("negative prompts: " + std::to_string(in.negatives.size()) + " given for " +
                                 std::to_string(batch) + " prompts");
  bool zero_negative = in.negatives.empty() && in.force_zeros_for_empty_prompt;
  std::vector<std::string> negatives = in.negatives;
  if (negatives.empty()) negatives.assign(in.prompts.size(), "");

  // Per prompt (positives then negatives): a list of windows, each ids1/ids2/weights of 77.
  struct Window {
    std::vector<std::int64_t> ids1, ids2;
    std::vector<double> weights;
  };
  std::vector<std::vector<Window>> windows;
  auto tokenize = [&](const std::string& text) -> sdk::Status {
    std::vector<Window> w;
    if (in.mode == PromptMode::plain) {
      auto t = tokenizers.encode(text);
      if (!t.ok()) return t.status();
      w.push_back({t.value().ids_1, t.value().ids_2, {}});
    } else {
      auto chunks = a1111_chunks(*tokenizers.tokenizer_1, text);
      if (!chunks.ok()) return chunks.status();
      for (const auto& c : chunks.value()) {
        Window win{frame(c.bpe, tokenizers.pad_1), frame(c.bpe, tokenizers.pad_2), std::vector<double>(77, 1.0)};
        for (std::size_t i = 0; i < c.weights.size(); ++i) win.weights[i + 1] = c.weights[i];
        w.push_back(std::move(win));
      }
    }
    windows.push_back(std::move(w));
    return {};
  };
  for (const auto& p : in.prompts)
    if (auto st = tokenize(p); !st.ok()) return st;
  if (!zero_negative)  // zero negatives need no encoding
    for (const auto& n : negatives)
      if (auto st = tokenize(n); !st.ok()) return st;

  // Equal window counts across the whole CFG batch: pad with empty windows.
  std::size_t max_windows = 0;
  for (const auto& w : windows) max_windows = std::max(max_windows, w.size());
  for (auto& w : windows)
    while (w.size() < max_windows)
      w.push_back({frame({}, tokenizers.pad_1), frame({}, tokenizers.pad_2), std::vector<double>(77, 1.0)});

  const auto rows = static_cast<std::int64_t>(windows.size());
  std::vector<at::Tensor> per_window;
  at::Tensor pooled;
  for (std::size_t k = 0; k < max_windows; ++k) {
    at::Tensor ids1 = at::empty({rows, 77}, at::kLong), ids2 = at::empty({rows, 77}, at::kLong);
    at::Tensor weights;
    if (in.mode == PromptMode::a1111) weights = at::empty({rows, 77}, at::kDouble);
    for (std::int64_t r = 0; r < rows; ++r) {
      const auto& win = windows[r][k];
      std::copy(win.ids1.begin(), win.ids1.end(), ids1[r].data_ptr<std::int64_t>());
      std::copy(win.ids2.begin(), win.ids2.end(), ids2[r].data_ptr<std::int64_t>());
      if (weights.defined()) std::copy(win.weights.begin(), win.weights.end(), weights[r].data_ptr<double>());
    }
    // Weights that are all 1 change nothing: skip the rescale so plain text is bit-identical.
    if (weights.defined() && at::all(weights == 1.0).item<bool>()) weights = at::Tensor();
    auto e = encode_window(encoders, ids1, ids2, weights);
    if (!e.ok()) return e.status();
    per_window.push_back(e.value().embeds);
    if (k == 0) pooled = e.value().pooled;
  }
  at::Tensor all = at::cat(per_window, 1);  // [B or 2B, 77·k, D]
  Conditioning c;
  c.prompt_embeds = all.slice(0, 0, batch);
  c.pooled = pooled.slice(0, 0, batch);
  if (zero_negative) {
    c.negative_embeds = at::zeros_like(c.prompt_embeds);
    c.negative_pooled = at::zeros_like(c.pooled);
  } else {
    c.negative_embeds = all.slice(0, batch);
    c.negative_pooled = pooled.slice(0, batch);
  }
  return c;
}

}  // namespace sdxl::pipeline
