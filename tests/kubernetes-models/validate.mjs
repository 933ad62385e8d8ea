// Reads one JSON request per line, {"kind": "Job" | "Secret" | "Deployment" | ..., "object": {...}} (the kinds below: what
// the kubernetes runner sends, and what deploy/kubernetes holds), and answers one JSON line per request:
// {"errors": [{"path": "/spec/...", "message": "..."}]}, empty when the object conforms to the Kubernetes OpenAPI schema
// (kubernetes-models' validators, generated from the Kubernetes project's OpenAPI spec).
import { createInterface } from "node:readline";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Job } from "kubernetes-models/batch/v1/Job";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";

const models = { ConfigMap, Deployment, Job, PersistentVolumeClaim, Role, RoleBinding, Secret, Service, ServiceAccount };

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
