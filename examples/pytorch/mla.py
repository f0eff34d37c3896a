"""A PyTorch multi-head latent attention layer in the style of DeepSeek-V2's modeling code:
q_proj or q_a_proj -> q_a_layernorm -> q_b_proj, kv_a_proj_with_mqa -> kv_a_layernorm ->
kv_b_proj, o_proj, interleaved RoPE on the decoupled rope part. Two forms: "naive" caches the
up-projected per-head keys and values; "absorb" caches the normalised latent and the rope key
and folds kv_b_proj into the query and the output. drop_kv_b_bias=True makes absorb forget
kv_b_proj's bias, the bug of seed 002, which `attnlab compare` must catch."""
import torch
from torch import nn


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class MLA(nn.Module):
    def __init__(self, case, form="naive", drop_kv_b_bias=False):
        """case: a golden case.json (its config and resolved numerics)."""
        super().__init__()
        c, r = case["config"], case["resolved"]
        bias = set(c.get("biases", []))
        self.heads, self.form, self.drop_kv_b_bias = c["n_heads"], form, drop_kv_b_bias
        self.nope, self.rope, self.v = c["qk_nope_head_dim"], c["qk_rope_head_dim"], c["v_head_dim"]
        self.lora = c["kv_lora_rank"]
        hidden, eps, h = c["hidden_size"], c.get("rms_norm_eps", 1e-6), self.heads
        norms = c.get("latent_norms", True)
        if c.get("q_lora_rank", 0) > 0:
            self.q_a_proj = nn.Linear(hidden, c["q_lora_rank"], bias="q_a_proj" in bias)
            self.q_a_layernorm = RMSNorm(c["q_lora_rank"], eps) if norms else nn.Identity()
            self.q_b_proj = nn.Linear(c["q_lora_rank"], h * (self.nope + self.rope),
                                      bias="q_b_proj" in bias)
        else:
            self.q_proj = nn.Linear(hidden, h * (self.nope + self.rope), bias="q_proj" in bias)
        self.kv_a_proj_with_mqa = nn.Linear(hidden, self.lora + self.rope,
                                            bias="kv_a_proj_with_mqa" in bias)
        self.kv_a_layernorm = RMSNorm(self.lora, eps) if norms else nn.Identity()
        self.kv_b_proj = nn.Linear(self.lora, h * (self.nope + self.v), bias="kv_b_proj" in bias)
        self.o_proj = nn.Linear(h * self.v, hidden, bias="o_proj" in bias)
        self.scale = r["softmax_scale"]
        self.inv_freq = torch.tensor(r["rope_inv_freq"], dtype=torch.float64)
        self.attention_factor = r["rope_attention_factor"]

    def load(self, weights):
        """weights: {HF name: tensor} as in a golden weights.safetensors."""
        own = dict(self.named_parameters())
        with torch.no_grad():
            for name, t in weights.items():
                own[name].copy_(t)

    def rotate(self, x, positions):
        """Interleaved RoPE: pair (2i, 2i+1) turns by position * inv_freq[i]. x [B, S, ..., rope]."""
        angle = positions.to(torch.float64)[..., None] * self.inv_freq  # [B, S, rope/2]
        while angle.dim() < x.dim():
            angle = angle.unsqueeze(-2)
        cos = (torch.cos(angle) * self.attention_factor).to(x.dtype)
        sin = (torch.sin(angle) * self.attention_factor).to(x.dtype)
        x0, x1 = x[..., 0::2], x[..., 1::2]
        return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)

    def queries(self, x):
        q = self.q_b_proj(self.q_a_layernorm(self.q_a_proj(x))) if hasattr(self, "q_a_proj") \
            else self.q_proj(x)
        return q.view(*x.shape[:2], self.heads, self.nope + self.rope)

    def forward(self, x, positions, cache):
        """x [B, S, hidden], positions [B, S]; cache: a dict this module fills. Returns the
        output [B, S, hidden] and the log-sum-exp [B, S, heads]."""
        b, s, _ = x.shape
        q = self.queries(x)
        q_nope, q_pe = q[..., :self.nope], self.rotate(q[..., self.nope:], positions)
        kv_a = self.kv_a_proj_with_mqa(x)
        latent = self.kv_a_layernorm(kv_a[..., :self.lora])
        k_pe = self.rotate(kv_a[..., self.lora:], positions)  # [B, S, rope], shared by heads
        past = cache.get("k_pe", k_pe[:, :0]).shape[1]
        w = self.kv_b_proj.weight.view(self.heads, self.nope + self.v, self.lora)
        w_uk, w_uv = w[:, :self.nope], w[:, self.nope:]
        if self.kv_b_proj.bias is not None and not (self.form == "absorb" and self.drop_kv_b_bias):
            bias = self.kv_b_proj.bias.view(self.heads, self.nope + self.v)
            b_uk, b_uv = bias[:, :self.nope], bias[:, self.nope:]
        else:
            b_uk = b_uv = None
        keys_pe = torch.cat([cache.get("k_pe", k_pe[:, :0]), k_pe], 1)  # [B, T, rope]
        if self.form == "naive":
            kv = self.kv_b_proj(latent).view(b, s, self.heads, self.nope + self.v)
            k_nope = torch.cat([cache.get("k_nope", kv[:, :0, :, :self.nope]), kv[..., :self.nope]], 1)
            v = torch.cat([cache.get("v", kv[:, :0, :, self.nope:]), kv[..., self.nope:]], 1)
            cache.update(k_nope=k_nope, v=v, k_pe=keys_pe)
            scores = torch.einsum("bshd,bthd->bhst", q_nope, k_nope)
        else:
            latents = torch.cat([cache.get("latent", latent[:, :0]), latent], 1)  # [B, T, lora]
            cache.update(latent=latents, k_pe=keys_pe)
            q_lat = torch.einsum("bshd,hdl->bshl", q_nope, w_uk)
            scores = torch.einsum("bshl,btl->bhst", q_lat, latents)
            if b_uk is not None:  # the key bias adds q_nope . b_UK to every score of a query
                scores = scores + torch.einsum("bshd,hd->bhs", q_nope, b_uk)[..., None]
        scores = (scores + torch.einsum("bshr,btr->bhst", q_pe, keys_pe)) * self.scale
        t = keys_pe.shape[1]
        visible = torch.arange(t)[None, :] <= (past + torch.arange(s))[:, None]  # slot order
        scores = scores.masked_fill(~visible, float("-inf"))
        lse = torch.logsumexp(scores, -1)  # [B, H, S]
        p = torch.exp(scores - lse[..., None])
        if self.form == "naive":
            o = torch.einsum("bhst,bthd->bshd", p, v)
        else:
            o = torch.einsum("hdl,bshl->bshd", w_uv, torch.einsum("bhst,btl->bshl", p, latents))
            if b_uv is not None:
                o = o + b_uv
        return self.o_proj(o.reshape(b, s, self.heads * self.v)), lse.transpose(1, 2)
