// llama.cpp's plain greedy loop at a chosen thread count (llama-simple always takes its default
// count): decode one token, sample it with llama.cpp's greedy sampler, repeat. Built by
// bench/llama_cpp_reference.py against the same llama.cpp; prints "eval: N tokens in S s".
#include "llama.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

int main(int argc, char ** argv) {
    if (argc < 5) {
        std::fprintf(stderr, "usage: %s MODEL THREADS N_PREDICT PROMPT\n", argv[0]);
        return 2;
    }
    const int threads = std::atoi(argv[2]);
    const int n_predict = std::atoi(argv[3]);
    const std::string prompt = argv[4];
    llama_backend_init();
    llama_model_params mparams = llama_model_default_params();
    llama_model * model = llama_model_load_from_file(argv[1], mparams);
    if (!model) return 1;
    const llama_vocab * vocab = llama_model_get_vocab(model);
    std::vector<llama_token> toks(prompt.size() + 8);
    int n = llama_tokenize(vocab, prompt.c_str(), (int) prompt.size(), toks.data(), (int) toks.size(), true, true);
    if (n < 0) return 1;
    toks.resize(n);
    llama_context_params cparams = llama_context_default_params();
    cparams.n_ctx = n + n_predict + 8;
    cparams.n_batch = cparams.n_ubatch = 512;
    cparams.n_threads = cparams.n_threads_batch = threads;
    llama_context * ctx = llama_init_from_model(model, cparams);
    llama_sampler * smpl = llama_sampler_chain_init(llama_sampler_chain_default_params());
    llama_sampler_chain_add(smpl, llama_sampler_init_greedy());
    llama_batch batch = llama_batch_get_one(toks.data(), (int) toks.size());
    if (llama_decode(ctx, batch)) return 1;
    llama_token tok = llama_sampler_sample(smpl, ctx, -1);
    const auto t0 = std::chrono::steady_clock::now();
    int produced = 0;
    for (int i = 1; i < n_predict && !llama_vocab_is_eog(vocab, tok); ++i) {
        batch = llama_batch_get_one(&tok, 1);
        if (llama_decode(ctx, batch)) return 1;
        tok = llama_sampler_sample(smpl, ctx, -1);
        ++produced;
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("eval: %d tokens in %.6f s\n", produced, s);
    llama_sampler_free(smpl);
    llama_free(ctx);
    llama_model_free(model);
    return 0;
}
