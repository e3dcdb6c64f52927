// One upload with tus-js-client (npm), the client browsers and Uppy use, run under Node:
//   node tus_js_upload.mjs ENDPOINT FILE CHUNK_SIZE URL_FILE [API_KEY]
// The upload URL is written to URL_FILE as soon as it exists; when URL_FILE already holds one,
// the upload resumes there (what a killed client does on its next start). Prints one line per
// accepted chunk ("accepted <bytes>") and, at the end, "done <upload url> <media id>".
import fs from "node:fs";
import * as tus from "tus-js-client";

const [endpoint, path, chunkSize, urlFile, apiKey] = process.argv.slice(2);
const previous = fs.existsSync(urlFile) ? fs.readFileSync(urlFile, "utf8").trim() : null;
const upload = new tus.Upload(fs.createReadStream(path), {
  endpoint,
  uploadUrl: previous || null,
  chunkSize: Number(chunkSize),
  uploadSize: fs.statSync(path).size,
  headers: apiKey ? { "X-API-Key": apiKey } : {},
  metadata: { filename: "from-tus-js-client.mp4", filetype: "video/mp4", client: "tus-js-client" },
  retryDelays: [0, 500, 1000, 2000, 4000, 8000],
  onUploadUrlAvailable() {
    fs.writeFileSync(urlFile, upload.url);
  },
  onChunkComplete(_chunk, accepted) {
    console.log(`accepted ${accepted}`);
  },
  onSuccess(payload) {
    const mediaId = payload.lastResponse.getHeader("media-id") || "";
    console.log(`done ${upload.url} ${mediaId}`);
    process.exit(0);
  },
  onError(error) {
    console.error(`error ${error}`);
    process.exit(1);
  },
});
upload.start();
