"""Scratch probe (issue 16, full scale): M1+M2's test error on label draws as M1 and M2 train longer.

M1: semi_supervised's plain VAE recipe trained to M1_MAX steps; at every M1_EVERY steps its encoder means feed
M1+M2 (the book recipe, lr 2e-3, 500 units, d 10) trained M2_MAX steps, test error every M2_EVERY steps.
The global RNG is saved and restored around each nested M2 run, so M1's trajectory is the cached recipe's.
"""
import json, math, sys, time
import torch
from edu_gen import data, semi_supervised as ss, train, vae, cvae

M1_MAX, M1_EVERY = int(sys.argv[1]), int(sys.argv[2])
M2_MAX, M2_EVERY = int(sys.argv[3]), int(sys.argv[4])
DRAWS = [int(s) for s in sys.argv[5].split(",")]
torch.set_num_threads(1)
train_x, train_y = data.images("mnist", "train")
test_x, test_y = data.images("mnist", "test")
t0 = time.process_time()

def m1m2_curve(m1, m1_steps):
    with torch.no_grad():
        codes = torch.cat([m1.encode(b)[0] for b in train_x.split(2000)])
        tcodes = torch.cat([m1.encode(b)[0] for b in test_x.split(2000)])
    recipe = ss.m1m2_recipe(len(train_x), "book")
    for draw in DRAWS:
        index = data.labelled_subset(train_y, 10, seed=draw)
        torch.manual_seed(draw)
        m2 = cvae.M2(recipe["config"])
        torch.manual_seed(draw)                # as load_or_train_m2, then train_m2
        batches = ss.SemiSupervisedBatches(codes[index], train_y[index], codes, 100, 100, draw, False)
        def err(m):
            return {"test_error": (torch.cat([m.classify(b) for b in tcodes.split(2000)]) != test_y).float().mean().item()}
        h = train.fit(m2, lambda m, b: m.loss(b), batches, epochs=math.ceil(M2_MAX / len(batches)), max_steps=M2_MAX,
                      lr=recipe["lr"], eval_fn=err, eval_every=M2_EVERY, progress=False, device="cpu")
        curve = {s + 1: round(e, 4) for s, e in zip(h.steps["test_error"], h["test_error"])}
        print(json.dumps({"m1_steps": m1_steps, "draw": draw, "m2_curve": curve, "cpu_s": round(time.process_time() - t0)}), flush=True)

def at_checkpoint(m1):
    done = len(hist["loss"])
    rng = torch.get_rng_state()
    with torch.enable_grad():
        m1m2_curve(m1, done)
    torch.set_rng_state(rng)
    return {"checkpoint": float(done)}

torch.manual_seed(0)
m1 = vae.VAE(vae.VAEConfig(latent_dim=20))
torch.manual_seed(0)                       # as load_or_train_vae, then train_vae
loader = data.loader(train_x, batch_size=100, shuffle=True, seed=0, drop_last=True)
hist = train.History()
train.fit(m1, vae.binarized_loss, loader, epochs=math.ceil(M1_MAX / len(loader)), max_steps=M1_MAX, lr=1e-3,
          eval_fn=at_checkpoint, eval_every=M1_EVERY, progress=False, device="cpu", history=hist)
print(json.dumps({"done": True, "m1_loss_last1000": sum(hist["loss"][-1000:]) / 1000, "cpu_s": round(time.process_time() - t0)}))
