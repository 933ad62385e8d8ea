"""A tiny training script for the README's getting started: it reports a run to Liftoff."""
import math
import os

import liftoff

run = liftoff.init(project="hello", config={"lr": 0.1, "epochs": 5})
for epoch in range(run.config["epochs"]):
    loss = math.exp(-run.config["lr"] * (epoch + 1))
    liftoff.log({"epoch": epoch, "loss": loss})
    print(f"epoch {epoch}: loss {loss:.4f}")
print("threads:", os.environ.get("OMP_NUM_THREADS", "not set"))
liftoff.finish()
