"""The lab's model: the MiniLM encoder (the embedded models' base) and a linear head over one representation
(one layer, or ELMo's scalar mix of all of them): of the text (mean over its tokens) for a sentence task, of
each token for a token task."""
from __future__ import annotations

import torch
from torch import nn

from models.lab.encoders import load as load_encoder, minilm_encoder  # noqa: F401  (minilm_encoder: the tests')
from models.lab.strategies import Strategy

MAX_LEN = 64  # tokens per text, in training and at prediction (SST-2 sentences are shorter)


class ScalarMix(nn.Module):
    """gamma * sum_j softmax(w)_j * h_j over the embedding layer and every encoder layer (Peters et al. 2018)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(n))
        self.gamma = nn.Parameter(torch.ones(()))

    def layer_weights(self) -> torch.Tensor:
        return self.weights.softmax(-1)

    def forward(self, layers: torch.Tensor) -> torch.Tensor:  # [n_layers, ...] -> [...]
        return self.gamma * torch.einsum("l,l...->...", self.layer_weights(), layers)


def layer_index(spec: str, n_layers: int) -> int | None:
    """Index into hidden_states (0 = embeddings) of a strategy's `layer`; None for the scalar mix."""
    if spec == "mix":
        return None
    if spec == "embeddings":
        return 0
    if spec == "top":
        return n_layers
    if spec == "middle":
        return n_layers // 2
    return int(spec.split("-")[1])


class Bottleneck(nn.Module):
    """h + up(gelu(down(h))): an adapter that starts as the identity (up is zero) so training begins from the
    pre-trained model's own behaviour."""

    def __init__(self, hidden: int, size: int = 32) -> None:
        super().__init__()
        self.down, self.up = nn.Linear(hidden, size), nn.Linear(size, hidden)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.up(nn.functional.gelu(self.down(h)))


class LabModel(nn.Module):
    def __init__(self, strategy: Strategy, n_labels: int, n_aux_labels: int = 0, tokens: bool = False,
                 encoder: str = "minilm") -> None:
        super().__init__()
        encoder, self.tokenizer = load_encoder(encoder)
        self.encoder = encoder
        n_layers, hidden = encoder.config.num_hidden_layers, encoder.config.hidden_size
        self.index = layer_index(strategy.layer, n_layers)
        self.mix = ScalarMix(n_layers + 1) if self.index is None else None
        self.tokens = tokens  # a label per token (the head reads each token's vector), else one per text
        self.head = nn.Linear(hidden, n_labels)
        # multi-task: the other kind's head on the same encoder (its last layer): tokens for a sentence task
        self.aux_head = nn.Linear(hidden, n_aux_labels) if n_aux_labels else None
        self.prompt = None
        if strategy.prompt_tokens:  # initialised from random vocabulary embeddings (Lester et al.)
            vocab = encoder.embeddings.word_embeddings.weight
            pick = torch.randint(1000, vocab.shape[0], (strategy.prompt_tokens,))
            self.prompt = nn.Parameter(vocab[pick].detach().clone())
        self.adapters = None
        if strategy.train == "adapter":  # after each layer's feed-forward projection, inside its residual
            self.adapters = nn.ModuleList(Bottleneck(hidden) for _ in range(n_layers))
            for block, adapter in zip(encoder.encoder.layer, self.adapters):
                block.output.dense.register_forward_hook(lambda mod, args, out, a=adapter: a(out))

    @property
    def n_layers(self) -> int:
        return self.encoder.config.num_hidden_layers

    def _encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        """The encoder's output, and the mask of the text's own tokens (prompt vectors excluded)."""
        if self.prompt is None:
            return self.encoder(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True), \
                attention_mask
        b, k = input_ids.shape[0], self.prompt.shape[0]
        words = self.encoder.embeddings.word_embeddings(input_ids)  # the prompt goes right after [CLS]
        embeds = torch.cat([words[:, :1], self.prompt.expand(b, -1, -1), words[:, 1:]], 1)
        ones, zeros = attention_mask.new_ones(b, k), attention_mask.new_zeros(b, k)
        full = torch.cat([attention_mask[:, :1], ones, attention_mask[:, 1:]], 1)
        out = self.encoder(inputs_embeds=embeds, attention_mask=full, output_hidden_states=True)
        return out, torch.cat([attention_mask[:, :1], zeros, attention_mask[:, 1:]], 1)

    def hidden_layers(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Every hidden layer at the text's own positions (prompt vectors removed): [n_layers + 1, b, T, hidden]."""
        out, _ = self._encode(input_ids, attention_mask)
        layers = torch.stack(out.hidden_states)
        if self.prompt is not None:
            layers = torch.cat([layers[:, :, :1], layers[:, :, 1 + self.prompt.shape[0]:]], 2)
        return layers

    def pooled_layers(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Mean over the real tokens of every hidden layer: [n_layers + 1, batch, hidden]."""
        layers = self.hidden_layers(input_ids, attention_mask)
        m = attention_mask.unsqueeze(-1).to(layers.dtype)
        return (layers * m).sum(2) / m.sum(1)

    def aux_logits(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Multi-task: the second head's logits from the same encoder's last layer: per token for a sentence
        task's second task, per text (mean over tokens) for a token task's."""
        h = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if not self.tokens:
            return self.aux_head(h)
        m = attention_mask.unsqueeze(-1).to(h.dtype)
        return self.aux_head((h * m).sum(1) / m.sum(1))

    def classify(self, layers: torch.Tensor) -> torch.Tensor:
        """Logits from every layer's vectors [n_layers + 1, ...]: pooled [.., batch, hidden] for a sentence task
        (so frozen features can be cached), per token [.., batch, T, hidden] for a token task."""
        rep = self.mix(layers) if self.mix is not None else layers[self.index]
        return self.head(rep)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """[batch, labels] for a sentence task, [batch, T, labels] for a token task."""
        if self.tokens:
            return self.classify(self.hidden_layers(input_ids, attention_mask))
        return self.classify(self.pooled_layers(input_ids, attention_mask))
