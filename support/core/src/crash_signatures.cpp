#include "torchstress/crash_signatures.h"

#include <fmt/format.h>

namespace torchstress {

const std::vector<CrashSignature>& known_crash_signatures() {
  // Texts as printed by Metal / the allocator / CUDA libraries (upstream-threading-bugs.md).
  static const std::vector<CrashSignature> sigs = {
      {"mps-commit-committed", "commit an already committed command buffer", "pytorch/pytorch#100285 (fix #108996)",
       "MPS command buffer committed twice from two threads"},
      {"mps-completed-handler", "Completed handler provided after commit call", "pytorch/pytorch#100285 (fix #108996)",
       "MPS synchronize outside the stream's dispatch queue"},
      {"mps-encoder-already-encoding", "A command encoder is already encoding to this command buffer",
       "pytorch/pytorch#163721 / #197805 (fixes #164093, #197836)", "MPS compute encoder used from two threads"},
      {"mps-status-committed", "_status < MTLCommandBufferStatusCommitted", "pytorch/pytorch#197805 (fix #197836)",
       "MPS encoder fetched outside dispatch_sync"},
      {"mps-blit-encoder", "blitCommandEncoderCommon", "pytorch/pytorch#197805 (fix #197836)",
       "MPS range factories encoding outside the stream queue"},
      {"malloc-double-free", "malloc: Double free", "pytorch/pytorch PR #167541",
       "unguarded MetalShaderLibrary pipeline cache (double free)"},
      {"cublas-handle", "CUBLAS_STATUS_", "pytorch/pytorch#6962 (fix #29233)", "cuBLAS handle shared across threads"},
      {"cudnn-handle", "CUDNN_STATUS_", "pytorch/pytorch PR #14861 / #15668", "cuDNN handle shared across threads"},
      {"cusparse-handle", "CUSPARSE_STATUS_", "pytorch/pytorch#29352", "cuSPARSE handle shared across threads"},
      {"cuda-illegal-address", "an illegal memory access was encountered", "pytorch/pytorch PR #167248",
       "CUDA memory race (e.g. workspace freed while in use)"},
  };
  return sigs;
}

std::optional<CrashSignature> match_crash_signature(const std::string& stderr_text) {
  for (const auto& s : known_crash_signatures()) {
    if (stderr_text.find(s.text) != std::string::npos) return s;
  }
  return std::nullopt;
}

std::string describe_crash_match(const std::string& stderr_text) {
  auto m = match_crash_signature(stderr_text);
  return m ? fmt::format("matches {}: {}", m->upstream, m->bug_class) : "";
}

std::string recorded_crash_sample(const std::string& name) {
  static const std::vector<std::pair<std::string, std::string>> samples = {
      {"mps-commit-committed",
       "-[IOGPUMetalCommandBuffer validate]:215: failed assertion `commit an already committed command buffer'"},
      {"mps-completed-handler",
       "-[_MTLCommandBuffer addCompletedHandler:]:867: failed assertion `Completed handler provided after commit "
       "call'"},
      {"mps-encoder-already-encoding",
       "-[AGXG16XFamilyCommandBuffer tryCoalescingPreviousComputeCommandEncoderWithConfig:nextEncoderClass:]:1090: "
       "failed assertion `A command encoder is already encoding to this command buffer'"},
      {"mps-status-committed", "failed assertion `_status < MTLCommandBufferStatusCommitted'"},
      {"malloc-double-free", "python3(12345,0x16f2a7000) malloc: Double free of object 0x600003a8c0c0"},
      {"cublas-handle",
       "RuntimeError: CUDA error: CUBLAS_STATUS_EXECUTION_FAILED when calling `cublasSgemm( handle, ...)`"},
      {"cudnn-handle", "RuntimeError: cuDNN error: CUDNN_STATUS_MAPPING_ERROR"},
      {"cuda-illegal-address", "RuntimeError: CUDA error: an illegal memory access was encountered"},
      {"mps-blit-encoder", "-[AGXG15XFamilyCommandBuffer blitCommandEncoderCommon:]:836: failed assertion"},
  };
  for (const auto& [n, text] : samples) {
    if (n == name) return text;
  }
  return "";
}

std::string recorded_crash_sample_names() {
  return "crashsig:mps-commit-committed, crashsig:mps-completed-handler, crashsig:mps-encoder-already-encoding, "
         "crashsig:mps-status-committed, crashsig:mps-blit-encoder, crashsig:malloc-double-free, "
         "crashsig:cublas-handle, "
         "crashsig:cudnn-handle, crashsig:cuda-illegal-address";
}

}  // namespace torchstress
