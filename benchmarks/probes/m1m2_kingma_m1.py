"""Scratch probe (issue 16, full scale): M1+M2 with a Kingma-style M1 (d = 50, two layers of 500; ReLU here, softplus
there), codes restricted to active units (sd of the means over the training set > 0.1, as dpkingma/nips14-ssl's
learn_yz_x_ss.py does), M2 on the means or on z1 ~ q(z1|x) drawn afresh at every step (as that code does).
argv: m1_steps m2_max m2_every draw
"""
import json, math, sys, time
from dataclasses import replace
import torch
from edu_gen import data, semi_supervised as ss, train, vae, cvae

M1_STEPS, M2_MAX, M2_EVERY, DRAW = (int(a) for a in sys.argv[1:5])
torch.set_num_threads(1)
train_x, train_y = data.images("mnist", "train")
test_x, test_y = data.images("mnist", "test")
t0 = time.process_time()
torch.manual_seed(0)
m1 = vae.VAE(vae.VAEConfig(latent_dim=50, hidden_dim=500))
torch.manual_seed(0)
h = vae.train_vae(m1, train_x, steps=M1_STEPS, progress=False)
m1.eval()
with torch.no_grad():
    enc = lambda x: torch.cat([torch.cat(m1.encode(b), 1) for b in x.split(2000)])
    tr, te = enc(train_x), enc(test_x)
active = tr[:, :50].std(0) > 0.1
k = int(active.sum())
tr = torch.cat([tr[:, :50][:, active], tr[:, 50:][:, active]], 1)
te_mu = te[:, :50][:, active]
print(json.dumps({"m1_steps": M1_STEPS, "m1_loss_last500": sum(h["loss"][-500:]) / 500, "active": k,
                  "cpu_s": round(time.process_time() - t0)}), flush=True)
index = data.labelled_subset(train_y, 10, seed=DRAW)
for mode in ("means", "sampled"):
    recipe = ss.m1m2_recipe(len(train_x), "book")
    config = replace(recipe["config"], input_shape=(k,))
    torch.manual_seed(DRAW)
    m2 = cvae.M2(config)
    torch.manual_seed(DRAW)
    batches = ss.SemiSupervisedBatches(tr[index], train_y[index], tr, 100, 100, DRAW, False)
    def z1(b):   # (n, 2k) [mu, log_var] -> (n, k)
        mu, lv = b[:, :k], b[:, k:]
        return mu if mode == "means" else mu + (0.5 * lv).exp() * torch.randn_like(mu)
    def err(m):
        return {"test_error": (torch.cat([m.classify(b) for b in te_mu.split(2000)]) != test_y).float().mean().item()}
    hh = train.fit(m2, lambda m, b: m.loss((z1(b[0]), b[1], z1(b[2]))), batches, epochs=math.ceil(M2_MAX / len(batches)),
                   max_steps=M2_MAX, lr=recipe["lr"], eval_fn=err, eval_every=M2_EVERY, progress=False, device="cpu")
    curve = {s + 1: round(e, 4) for s, e in zip(hh.steps["test_error"], hh["test_error"])}
    print(json.dumps({"mode": mode, "draw": DRAW, "m2_curve": curve, "cpu_s": round(time.process_time() - t0)}), flush=True)
