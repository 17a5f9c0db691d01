// Drives @lmstudio/sdk against the server under test and prints what it got as one JSON line.
// Usage: node lmstudio_js_client.cjs INSTALL_DIR BASE_URL MAIN DRAFT [API_KEY]
const [installDir, baseUrl, main, draft, apiKey] = process.argv.slice(2);
const { createRequire } = require("module");
const { LMStudioClient } = createRequire(installDir + "/package.json")("@lmstudio/sdk");

async function run() {
  const opts = { baseUrl, verboseErrorMessages: false };
  if (apiKey) opts.clientPasskey = apiKey;
  const client = new LMStudioClient(opts);
  const out = {};
  const model = await client.llm.model(main);
  const config = { temperature: 0, repeatPenalty: 1, maxTokens: 16 };
  const prediction = model.respond("the cat", {
    ...config, draftModel: draft, speculativeDecodingNumDraftTokensExact: 4,
  });
  out.fragments = [];
  for await (const f of prediction) out.fragments.push(f);
  const result = await prediction.result();
  out.content = result.content;
  out.stats = result.stats;
  out.modelKey = result.modelInfo.modelKey;
  out.plain = (await model.respond("the cat", { ...config, draftModel: "" })).content;
  out.completed = (await model.complete("the dog", config)).content;
  const long = model.respond("the cat", { ...config, maxTokens: 1000000 });
  let n = 0;
  for await (const _ of long) if (++n === 3) long.cancel();
  out.cancelled = (await long.result()).stats;
  out.tokens = await model.tokenize("the cat");
  out.tokenCount = await model.countTokens("the cat");
  out.info = await model.getModelInfo();
  out.loaded = (await client.llm.listLoaded()).map(m => m.identifier);
  out.downloaded = (await client.system.listDownloadedModels()).map(m => m.modelKey);
  try {
    await client.llm.model("nothing/like/this.gguf");
  } catch (e) {
    out.notFound = String(e.message);
  }
  await model.unload();
  out.loadedAfter = (await client.llm.listLoaded()).map(m => m.identifier);
  process.stdout.write(JSON.stringify(out) + "\n");
  process.exit(0);
}

run().catch(e => {
  process.stdout.write(JSON.stringify({ error: String(e && e.message || e) }) + "\n");
  process.exit(1);
});
