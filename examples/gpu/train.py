"""Train a small classifier on the GPU when one is there, on the CPU otherwise.

With PyTorch (the cuda-train image) it trains a two-layer network on the
device asked for; without it (the python-ml image) it trains the same model
with numpy on the CPU. Writes model/ and metrics/train.json either way.
"""

import argparse
import json
import os
import time

import numpy as np
import yaml


def data(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2000, 20)).astype("float32")
    w = rng.normal(size=(20,))
    y = (x @ w + 0.3 * rng.normal(size=2000) > 0).astype("float32")
    return x, y


def train_numpy(x, y, epochs, lr):
    w = np.zeros(x.shape[1], dtype="float32")
    b = 0.0
    for _ in range(epochs * 50):
        p = 1 / (1 + np.exp(-(x @ w + b)))
        w -= lr * x.T @ (p - y) / len(y)
        b -= lr * float(np.mean(p - y))
    p = 1 / (1 + np.exp(-(x @ w + b)))
    loss = float(-np.mean(y * np.log(p + 1e-9) + (1 - y) * np.log(1 - p + 1e-9)))
    return {"w": w.tolist(), "b": b}, float(np.mean((p > 0.5) == y)), loss


def train_torch(x, y, epochs, lr, device):
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(20, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1)).to(device)
    xs, ys = torch.tensor(x, device=device), torch.tensor(y, device=device)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for _ in range(epochs * 50):
        opt.zero_grad()
        loss = loss_fn(model(xs).squeeze(1), ys)
        loss.backward()
        opt.step()
    with torch.no_grad():
        logits = model(xs).squeeze(1)
        accuracy = float(((logits > 0).float() == ys).float().mean())
    return {k: v.cpu().tolist() for k, v in model.state_dict().items()}, accuracy, float(loss)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--params", default="examples/gpu/params.yaml")
    parser.add_argument("--out", default="model")
    parser.add_argument("--metrics", default="metrics/train.json")
    args = parser.parse_args()
    params = yaml.safe_load(open(args.params))
    x, y = data(params["seed"])
    started = time.time()
    try:
        import torch  # noqa: F401

        have_torch = True
    except ImportError:
        have_torch = False
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise SystemExit("--device cuda, but PyTorch sees no GPU")
        weights, accuracy, loss = train_torch(x, y, params["epochs"], params["lr"], "cuda")
        device = torch.cuda.get_device_name(0)
    elif have_torch:
        weights, accuracy, loss = train_torch(x, y, params["epochs"], params["lr"], "cpu")
        device = "cpu (torch)"
    else:
        weights, accuracy, loss = train_numpy(x, y, params["epochs"], params["lr"])
        device = "cpu (numpy)"
    os.makedirs(args.out, exist_ok=True)
    json.dump(weights, open(os.path.join(args.out, "weights.json"), "w"))
    os.makedirs(os.path.dirname(args.metrics), exist_ok=True)
    json.dump(
        {"accuracy": accuracy, "loss": loss, "seconds": round(time.time() - started, 3)},
        open(args.metrics, "w"),
    )
    print(f"trained on {device}: accuracy={accuracy:.3f} loss={loss:.3f}")


if __name__ == "__main__":
    main()
