// A practice interview against a Samvaad server, from Node.js with nothing but protos/.
//
//   node walkthrough.mjs [address] [audio-file]
//
// address defaults to $SAMVAAD_ADDRESS, then 127.0.0.1:50051 (plaintext); the audio file
// defaults to $SAMVAAD_AUDIO. Each step prints one JSON line on stdout, so a test (or a
// person) can read what the server said. tests/test_node_client.py runs it.
//
// Error details travel in the `grpc-status-details-bin` trailer as a google.rpc.Status;
// they are decoded with the types of protos/google/rpc, loaded here with protobufjs.

import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createReadStream } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import protobuf from "protobufjs";

const PROTOS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "protos");
const SERVICES = [
  "samvaad/v1/auth.proto",
  "samvaad/v1/resume.proto",
  "samvaad/v1/interview.proto",
  "samvaad/v1/transcription.proto",
];
const CHUNK_BYTES = 64 * 1024;
// The MIME type to declare, by file extension (the server checks it against the bytes).
const MIME_TYPES = {
  ".wav": "audio/wav",
  ".mp3": "audio/mpeg",
  ".m4a": "audio/mp4",
  ".flac": "audio/flac",
  ".ogg": "audio/ogg",
  ".webm": "audio/webm",
};
const DEADLINE_MS = 60_000;

const RESUME = `Asha Rao - Backend Engineer
Six years of experience building APIs in Python with FastAPI and gRPC.
Ran PostgreSQL and Redis in production; deployed services with Docker and Kubernetes on AWS.
`;

// --- loading protos/ -----------------------------------------------------------------

// The services, with field names as in the .proto files (keepCase), int64 as strings
// (ids do not fit a JS number in general) and enums by name. google/protobuf/* resolve
// from protobufjs' bundled well-known types; includeDirs roots every import at protos/.
function loadServices() {
  const definition = protoLoader.loadSync(SERVICES, {
    includeDirs: [PROTOS],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition).samvaad.v1;
}

// google.rpc.Status and the detail messages it packs, from protos/google/rpc.
function loadErrorTypes() {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) =>
    target.startsWith("google/protobuf/") ? target : path.join(PROTOS, target);
  root.loadSync(["google/rpc/status.proto", "google/rpc/error_details.proto"], { keepCase: true });
  return root;
}

// --- small helpers ---------------------------------------------------------------------

const emit = (step, fields) => console.log(JSON.stringify({ step, ...fields }));

function deadline() {
  return { deadline: new Date(Date.now() + DEADLINE_MS) };
}

// A unary call as a promise.
function call(client, method, request, metadata = new grpc.Metadata()) {
  return new Promise((resolve, reject) => {
    client[method](request, metadata, deadline(), (error, reply) =>
      error ? reject(error) : resolve(reply),
    );
  });
}

function bearer(tokens) {
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${tokens.access_token}`);
  return metadata;
}

// The google.rpc.Status of a failed call, with every detail unpacked by its type URL
// ("type.googleapis.com/google.rpc.ErrorInfo" -> google.rpc.ErrorInfo).
function richStatus(error, errorTypes) {
  const [bytes] = error.metadata?.get("grpc-status-details-bin") ?? [];
  if (!bytes) return null;
  const Status = errorTypes.lookupType("google.rpc.Status");
  const status = Status.decode(bytes);
  const asObject = { longs: String, enums: String, defaults: true };
  return {
    code: status.code,
    message: status.message,
    details: status.details.map((any) => {
      const typeName = any.type_url.slice(any.type_url.lastIndexOf("/") + 1);
      const type = errorTypes.lookupType(typeName);
      return { "@type": typeName, ...type.toObject(type.decode(any.value), asObject) };
    }),
  };
}

// --- the walkthrough -------------------------------------------------------------------

// Client streaming: the config first, then the recording in chunks, then half-close.
async function transcribeAnswer(transcription, metadata, attemptId, audioPath) {
  let resolveReply, rejectReply;
  const reply = new Promise((resolve, reject) => {
    resolveReply = resolve;
    rejectReply = reject;
  });
  const stream = transcription.TranscribeAnswer(metadata, deadline(), (error, response) =>
    error ? rejectReply(error) : resolveReply(response),
  );
  // The server may refuse the stream while chunks are still being read: keep that
  // rejection for the `await reply` below instead of an unhandled-rejection crash.
  reply.catch(() => {});
  stream.write({
    config: {
      question_attempt_id: attemptId,
      language: "en",
      filename: path.basename(audioPath),
      mime_type: MIME_TYPES[path.extname(audioPath).toLowerCase()] ?? "",
      request_id: randomUUID(),
    },
  });
  let chunks = 0;
  for await (const chunk of createReadStream(audioPath, { highWaterMark: CHUNK_BYTES })) {
    // Respect backpressure: wait for the call to drain before writing more.
    if (!stream.write({ audio_content: chunk })) await once(stream, "drain");
    chunks += 1;
  }
  stream.end();
  return { response: await reply, chunks };
}

async function main() {
  const address = process.argv[2] ?? process.env.SAMVAAD_ADDRESS ?? "127.0.0.1:50051";
  const audioPath = process.argv[3] ?? process.env.SAMVAAD_AUDIO;
  if (!audioPath) throw new Error("usage: node walkthrough.mjs [address] <audio-file>");

  const v1 = loadServices();
  const errorTypes = loadErrorTypes();
  const credentials = grpc.credentials.createInsecure();
  const auth = new v1.AuthService(address, credentials);
  const resume = new v1.ResumeService(address, credentials);
  const interview = new v1.InterviewService(address, credentials);
  const transcription = new v1.TranscriptionService(address, credentials);

  const email = `node-${randomUUID().slice(0, 8)}@example.com`;
  const password = "correct horse node 1";
  const registered = await call(auth, "Register", { email, password, name: "Node Client" });
  emit("register", { user_id: registered.user.id, email: registered.user.email });

  const login = await call(auth, "Login", { email, password });
  emit("login", { user_id: login.user.id, token_type: login.tokens.token_type });
  const metadata = bearer(login.tokens);

  const uploaded = await call(
    resume,
    "UploadResume",
    { filename: "resume.txt", content_type: "text/plain", content: Buffer.from(RESUME) },
    metadata,
  );
  emit("upload_resume", {
    skills: uploaded.resume.skills,
    extractor: uploaded.resume.extractor,
    text_length: uploaded.resume.text_length,
  });

  const created = await call(
    interview,
    "CreateInterview",
    { track: "backend", difficulty: "DIFFICULTY_MEDIUM" },
    metadata,
  );
  emit("create_interview", { interview_id: created.interview.id, status: created.interview.status });

  const generated = await call(
    interview,
    "GenerateQuestions",
    { interview_id: created.interview.id, use_resume: true, count: 3 },
    metadata,
  );
  emit("generate_questions", {
    count: generated.questions.length,
    generator: generated.generator,
    first: generated.questions[0]?.text,
  });

  const attempt = await call(
    interview,
    "CreateQuestionAttempt",
    { question_id: generated.questions[0].id },
    metadata,
  );
  const attemptId = attempt.question_attempt.id;
  const { response, chunks } = await transcribeAnswer(transcription, metadata, attemptId, audioPath);
  emit("transcribe_answer", {
    question_attempt_id: response.question_attempt_id,
    chunks,
    text: response.transcription.text,
    words: response.transcription.words.length,
    engine: response.transcription.engine,
    format: response.audio.format,
    size_bytes: response.audio.size_bytes,
  });

  const stored = await call(transcription, "GetTranscription", { question_attempt_id: attemptId }, metadata);
  emit("get_transcription", { text: stored.transcription.text });

  // A page token the server never issued: INVALID_ARGUMENT with ErrorInfo and BadRequest.
  try {
    await call(interview, "ListInterviews", { page_size: 10, page_token: "not-a-token" }, metadata);
    emit("bad_page_token", { error: null });
  } catch (error) {
    emit("bad_page_token", {
      code: grpc.status[error.code],
      details: error.details,
      status: richStatus(error, errorTypes),
    });
  }

  for (const client of [auth, resume, interview, transcription]) client.close();
}

main().catch((error) => {
  // A failed step: say which status the server gave, with its details, and exit non-zero.
  const isGrpc = typeof error?.code === "number" && "details" in error;
  console.error(isGrpc ? `${grpc.status[error.code]}: ${error.details}` : error);
  process.exit(1);
});
