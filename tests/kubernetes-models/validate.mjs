// Reads one JSON request per line, {"kind": "Job" | "Secret", "object": {...}}, and answers one JSON line per request:
// {"errors": [{"path": "/spec/...", "message": "..."}]}, empty when the object conforms to the Kubernetes OpenAPI schema
// (kubernetes-models' validators, generated from the Kubernetes project's OpenAPI spec).
import { createInterface } from "node:readline";
import { Job } from "kubernetes-models/batch/v1/Job";
import { Secret } from "kubernetes-models/v1/Secret";

const models = { Job, Secret };

for await (const line of createInterface({ input: process.stdin })) {
  let errors = [];
  try {
    const { kind, object } = JSON.parse(line);
    const Model = models[kind];
    if (!Model) {
      errors = [{ path: "", message: `no model for kind ${kind}` }];
    } else {
      new Model(object).validate();
    }
  } catch (e) {
    errors = (e.errors ?? [{ instancePath: "", message: String(e.message ?? e) }])
      .filter((error) => error.keyword !== "oneOf")
      .map((error) => ({ path: error.instancePath, message: error.message }));
  }
  process.stdout.write(JSON.stringify({ errors }) + "\n");
}
