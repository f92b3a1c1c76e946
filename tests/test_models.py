import dataclasses
import itertools
import json
import math
import warnings

import pytest
import torch

from fnnlab.models import FNN, METHODS, FNNSpec, build
from fnnlab.nn import Highway, Residual


def _layer_stats(model: FNN, x: torch.Tensor) -> list[tuple[float, float]]:
    stats = []
    hooks = [block.register_forward_hook(
        lambda _m, _i, out: stats.append((out.mean().item(), out.var().item())))
        for block in model.hidden]
    with torch.no_grad():
        model(x)
    for hook in hooks:
        hook.remove()
    return stats


@pytest.mark.parametrize("method", METHODS.names())
def test_every_preset_builds_and_trains_one_step(method):
    model = build(FNNSpec(in_features=5, out_features=3, depth=3, width=8, method=method))
    x = torch.randn(16, 5)
    if model.needs_data_init:
        model.data_init_(x)
        assert not model.needs_data_init
    loss = torch.nn.functional.cross_entropy(model(x), torch.randint(0, 3, (16,)))
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert len(model.hidden) == model.spec.blocks() + 1 == (4 if method == "resnet" else 3)


@pytest.mark.parametrize("train_mode", [False, True], ids=["eval", "train_alpha_dropout"])
def test_deep_snn_keeps_every_layer_near_mean_0_variance_1(train_mode):
    spec = FNNSpec(in_features=64, out_features=2, depth=64, width=256, method="snn",
                   dropout=0.05 if train_mode else 0.0)
    model = build(spec).train(train_mode)
    stats = _layer_stats(model, torch.randn(1024, 64))
    assert len(stats) == 64
    for layer, (mean, var) in enumerate(stats):
        # Tolerances of the issue: a SELU net at the (0, 1) fixed point stays within them
        # at any depth; with 256 units and 1024 samples the sampling noise is ~0.03.
        assert abs(mean) < 0.1, f"layer {layer}: mean {mean:.3f}"
        assert abs(var - 1) < 0.15, f"layer {layer}: variance {var:.3f}"


def test_deep_relu_with_glorot_init_loses_its_variance():
    spec = FNNSpec(in_features=64, out_features=2, depth=64, width=256, method="msra",
                   init="glorot_normal")
    stats = _layer_stats(build(spec), torch.randn(1024, 64))
    # Glorot gives weights variance 1/fan_in here; ReLU halves the second moment per layer.
    assert stats[-1][1] < 1e-6 * stats[0][1]


def test_weightnorm_data_init_gives_unit_variance_pre_activations():
    spec = FNNSpec(in_features=10, out_features=2, depth=4, width=32, method="weightnorm")
    model = build(spec)
    x = torch.randn(500, 10) * 3 + 1
    assert model.needs_data_init
    model.data_init_(x)
    pre = []
    hooks = [block.linear.register_forward_hook(lambda _m, _i, out: pre.append(out))
             for block in model.hidden]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    for out in pre:
        torch.testing.assert_close(out.mean(0), torch.zeros(32), atol=1e-4, rtol=0)
        torch.testing.assert_close(out.var(0, unbiased=False), torch.ones(32), atol=1e-3,
                                   rtol=0)


def test_data_init_flag_survives_a_state_dict_round_trip():
    spec = FNNSpec(in_features=3, out_features=2, depth=2, width=4, method="weightnorm")
    model = build(spec).data_init_(torch.randn(20, 3))
    clone = build(spec)
    clone.load_state_dict(model.state_dict())
    assert not clone.needs_data_init


def test_spec_overrides_the_preset_field_by_field():
    spec = FNNSpec(in_features=4, out_features=2, method="snn", depth=3, dropout=0.1)
    r = spec.resolved()
    assert (r.activation, r.init, r.dropout_kind, r.dropout) == (
        "selu", "lecun_normal", "alpha_dropout", 0.1)
    assert FNNSpec(in_features=4, out_features=2, method="snn", activation="tanh",
                   init="glorot_normal").resolved().activation == "tanh"


def test_presets_build_the_blocks_they_name():
    resnet = build(FNNSpec(in_features=4, out_features=2, depth=3, width=8, method="resnet"))
    highway = build(FNNSpec(in_features=4, out_features=2, depth=3, width=8, method="highway"))
    assert all(isinstance(b, Residual) for b in resnet.hidden[1:])
    assert all(isinstance(b, Highway) for b in highway.hidden[1:])


def test_spec_round_trips_through_json_and_is_hashable():
    spec = FNNSpec(in_features=4, out_features=2, depth=3, width=8, method="snn",
                   activation_params={"alpha": 2.0, "scale": 1.1})
    again = FNNSpec.from_json(json.dumps(json.loads(spec.to_json())))
    assert again == spec and hash(again) == hash(spec)
    assert dataclasses.replace(spec, depth=5).depth == 5


def test_activation_params_reach_the_selu():
    spec = FNNSpec(in_features=4, out_features=2, depth=2, width=8, method="snn", dropout=0.1,
                   activation_params={"alpha": 2.0, "scale": 1.2})
    model = build(spec)
    act = model.hidden[0].act
    assert (act.alpha, act.scale) == (2.0, 1.2)
    assert model.hidden[0].drop.alpha == pytest.approx(2.0)


def test_selu_with_another_init_warns_and_says_why():
    with pytest.warns(UserWarning, match="instead of .lecun_normal."):
        build(FNNSpec(in_features=4, out_features=2, depth=2, width=8, method="snn",
                      init="he_normal"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build(FNNSpec(in_features=4, out_features=2, depth=2, width=8, method="snn"))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"activation": "selu2"}, ValueError, "Did you mean 'selu'.*Known activations"),
        ({"norm": "batchnrom"}, ValueError, "Known norms"),
        ({"method": "snnn"}, ValueError, "Known methods"),
        ({"depth": 0}, ValueError, r"FNNSpec.depth must be >= 1, got 0"),
        ({"width": 0}, ValueError, r"FNNSpec.width must be >= 1, got 0"),
        ({"dropout": 1.5}, ValueError, r"FNNSpec.dropout must be in \[0, 1\), got 1.5"),
        ({"input_dropout": -0.1}, ValueError, r"FNNSpec.input_dropout must be in \[0, 1\)"),
        ({"depth": 2.5}, TypeError, r"FNNSpec.depth must be an int"),
    ],
)
def test_bad_spec_values_are_rejected_with_a_clear_message(kwargs, error, match):
    with pytest.raises(error, match=match):
        FNNSpec(in_features=4, out_features=2, **kwargs)


def test_unknown_spec_field_is_an_error_not_dropped():
    data = FNNSpec(in_features=4, out_features=2).to_dict()
    data["widht"] = 3
    with pytest.raises(ValueError, match="Unknown FNNSpec field.*'widht'.*Known fields"):
        FNNSpec.from_dict(data)


def _carry_gradient_ratio(spec: FNNSpec) -> float:
    """||dL/dh_0|| / ||dL/dh_L||: gradient at the stack's input over that at its output."""
    model = build(spec)
    x = torch.randn(256, spec.in_features)
    first = model.hidden[0](x)
    first.retain_grad()
    last = first
    for block in model.hidden[1:]:
        last = block(last)
    last.retain_grad()
    torch.nn.functional.cross_entropy(model.head(last), torch.randint(0, 2, (256,))).backward()
    return (first.grad.norm() / last.grad.norm()).item()


def test_depth_50_highway_net_passes_gradient_through_its_carry_path():
    torch.manual_seed(0)
    spec = FNNSpec(in_features=16, out_features=2, depth=50, width=32, method="highway")
    assert spec.resolved().gate_bias == pytest.approx(-math.log(49))
    # The carry path alone scales the gradient by about (1 - 1/50)^49 = 0.37 over 49
    # blocks; measured 0.25-0.27 over seeds. A factor 10 either way is the tolerance.
    assert 0.1 < _carry_gradient_ratio(spec) < 10.0
    # The old fixed bias of -2 keeps only 0.88^49 = 0.002 of it (measured 0.003-0.008).
    torch.manual_seed(0)
    assert _carry_gradient_ratio(dataclasses.replace(spec, gate_bias=-2.0)) < 0.05


def test_gate_bias_default_follows_depth_and_a_set_value_wins():
    spec = FNNSpec(in_features=4, out_features=2, depth=9, width=8, method="highway")
    model = build(spec)
    assert all(b.gate_bias == pytest.approx(-math.log(8)) for b in model.hidden[1:])
    torch.testing.assert_close(model.hidden[1].gate_offset, torch.full((8,), -math.log(8)))
    fixed = build(dataclasses.replace(spec, gate_bias=-1.5))
    assert all(b.gate_bias == -1.5 for b in fixed.hidden[1:])
    assert FNNSpec(4, 2, depth=2, method="highway").resolved().gate_bias == -1.0


@pytest.mark.parametrize(("value", "error", "match"), [
    (float("nan"), ValueError, "FNNSpec.gate_bias must be finite, got nan"),
    ("-2", TypeError, "FNNSpec.gate_bias must be a number or None, got '-2'"),
])
def test_bad_gate_bias_names_field_and_value(value, error, match):
    with pytest.raises(error, match=match):
        FNNSpec(in_features=4, out_features=2, method="highway", gate_bias=value)


def test_build_keeps_the_grid_lstm_blocks_own_initialization():
    torch.manual_seed(0)
    model = build(FNNSpec(in_features=16, out_features=2, depth=4, width=256,
                          method="grid_lstm"))
    for block in model.hidden[1:]:
        weight = block.cell.linears[0].weight  # (4d, d), d = 128
        # N(0, 3 / fan_in), Note [Grid LSTM initialization]; 65536 draws give ~0.3% noise.
        assert weight.std().item() == pytest.approx(3**0.5 / 128**0.5, rel=0.02)
        torch.testing.assert_close(block.cell.bias[0][128:256], torch.full((128,), 3.0))
    # The preset's LeCun normal still initializes the dense input layer and the head.
    assert model.hidden[0].linear.weight.std().item() == pytest.approx(16**-0.5, rel=0.1)


def test_depth_50_grid_lstm_net_keeps_its_state_and_gradients_even_from_bottom_to_top():
    torch.manual_seed(0)
    model = build(FNNSpec(in_features=16, out_features=2, depth=50, width=64,
                          method="grid_lstm"))
    x = torch.randn(256, 16)
    h, spread = model.hidden[0](x), []
    for block in model.hidden[1:]:
        h = block(h)
        spread.append(h.std())
    torch.nn.functional.cross_entropy(model.head(h), torch.randint(0, 2, (256,))).backward()
    grads = torch.stack([b.cell.linears[0].weight.grad.norm() for b in model.hidden[1:]])
    spread = torch.stack(spread)
    # Measured over 10 seeds: weight-gradient norms max/min 1.9-2.7, state std max/min
    # 1.1-1.3; with LeCun normal drawn over the block's init the state spread was 2.4-3.1.
    assert grads.max() / grads.min() < 10
    assert spread.max() / spread.min() < 1.6


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_conic_net_shrinks_geometrically_from_width_to_final_width():
    spec = FNNSpec(in_features=10, out_features=3, depth=4, width=512, method="msra",
                   layer_form="conic", final_width=64)
    # 512 * (1/8)^(i/3): each layer half as wide as the one before.
    assert spec.layer_widths() == [512, 256, 128, 64]
    model = build(spec)
    assert [b.out_features for b in model.hidden] == [512, 256, 128, 64]
    assert model(torch.randn(7, 10)).shape == (7, 3)
    assert model.features(torch.randn(7, 10)).shape == (7, 64)
    widths = [10, 512, 256, 128, 64, 3]
    assert _count(model) == sum(a * b + b for a, b in itertools.pairwise(widths))


def test_conic_default_final_width_is_an_eighth_never_below_the_outputs():
    spec = FNNSpec(in_features=10, out_features=2, depth=3, width=1024, method="snn",
                   layer_form="conic")
    assert spec.resolved().final_width == 128
    assert spec.layer_widths() == [1024, 362, 128]  # 1024 * 8^(-1/2) = 362.04
    wide_out = FNNSpec(in_features=10, out_features=50, depth=2, width=64, layer_form="conic")
    assert wide_out.layer_widths() == [64, 50]
    narrow = FNNSpec(in_features=10, out_features=50, depth=2, width=16, layer_form="conic")
    assert narrow.layer_widths() == [16, 16]  # never wider than width
    assert FNNSpec(in_features=10, out_features=2, depth=1, width=64,
                   layer_form="conic").layer_widths() == [64]
    assert FNNSpec(in_features=10, out_features=2, depth=3, width=64).resolved(
    ).final_width is None  # rectangular


def test_resnet_depth_counts_residual_blocks_after_the_input_layer():
    for depth in (2, 3, 16):
        model = build(FNNSpec(in_features=5, out_features=2, depth=depth, width=8,
                              method="resnet"))
        assert len(model.hidden) == depth + 1
        assert sum(isinstance(b, Residual) for b in model.hidden) == depth
    highway = build(FNNSpec(in_features=5, out_features=2, depth=4, width=8, method="highway"))
    assert len(highway.hidden) == 4  # other blocks: depth counts the input layer


@pytest.mark.parametrize(("block_form", "bottleneck", "inner"),
                         [("rectangular", 0.25, 256), ("diavolo", 0.25, 64),
                          ("diavolo", 0.5, 128)])
def test_resnet_block_form_and_bottleneck_set_the_branch_width(block_form, bottleneck, inner):
    w, n_in, n_out, depth = 256, 10, 3, 2
    spec = FNNSpec(in_features=n_in, out_features=n_out, depth=depth, width=w,
                   method="resnet", block_form=block_form, bottleneck=bottleneck)
    model = build(spec)
    for block in model.hidden[1:]:
        assert block.linear1.weight.shape == (inner, w)
        assert block.linear2.weight.shape == (w, inner)
    assert model(torch.randn(4, n_in)).shape == (4, n_out)
    # Input layer (linear + batch norm), per block: BN(w), W1 + b1, BN(inner), W2 + b2; head.
    block = 2 * w + (w * inner + inner) + 2 * inner + (inner * w + w)
    assert _count(model) == (n_in * w + w + 2 * w) + depth * block + (w * n_out + n_out)


def test_new_architecture_fields_round_trip_through_json():
    spec = FNNSpec(in_features=4, out_features=2, depth=3, width=64, method="resnet",
                   block_form="diavolo", bottleneck=0.25, gate_bias=-3.0)
    conic = FNNSpec(in_features=4, out_features=2, depth=3, width=64, method="snn",
                    layer_form="conic", final_width=16)
    for s in (spec, conic):
        again = FNNSpec.from_json(s.to_json())
        assert again == s and again.layer_widths() == s.layer_widths()


def _old_dict(**fields):
    """A spec dict as to_dict wrote it before layer_form/final_width/block_form/bottleneck."""
    data = FNNSpec(in_features=5, out_features=2, **fields).to_dict()
    for key in ("layer_form", "final_width", "block_form", "bottleneck"):
        del data[key]
    return data


def test_old_resnet_spec_dicts_load_as_the_network_they_were_trained_as():
    # The old resnet of depth 3 was the dense input layer and 2 residual blocks.
    old = FNNSpec.from_dict(_old_dict(depth=3, width=8, method="resnet"))
    assert old.depth == 2
    keys = set(build(old).state_dict())
    assert {k.split(".")[1] for k in keys if k.startswith("hidden.")} == {"0", "1", "2"}
    # Depth 1 had no residual block: the same modules as a dense net.
    one = FNNSpec.from_dict(_old_dict(depth=1, width=8, method="resnet"))
    assert (one.depth, one.blocks()) == (1, 0)
    # Other methods, and any dict that is not an old to_dict output, load unchanged.
    assert FNNSpec.from_dict(_old_dict(depth=3, method="snn")).depth == 3
    assert FNNSpec.from_dict({"in_features": 5, "out_features": 2, "depth": 3,
                              "method": "resnet"}).depth == 3
    current = FNNSpec(in_features=5, out_features=2, depth=3, method="resnet")
    assert FNNSpec.from_dict(current.to_dict()) == current


def test_a_checkpoint_saved_before_the_block_count_loads_with_the_same_outputs(tmp_path):
    import fnnlab as fl
    from fnnlab.training.checkpoint import read, write

    torch.manual_seed(0)
    model = build(FNNSpec(in_features=5, out_features=2, depth=2, width=8, method="resnet"))
    path = fl.save(model.eval(), tmp_path / "old.pt")
    payload = read(path)
    payload["spec"] = _old_dict(depth=3, width=8, method="resnet")  # the old count
    write(payload, path)
    loaded = fl.load(path).eval()
    x = torch.randn(4, 5)
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"layer_form": "conical"}, ValueError,
         "FNNSpec.layer_form must be one of 'rectangular', 'conic', got 'conical'"),
        ({"block_form": "diabolo"}, ValueError,
         "FNNSpec.block_form must be one of 'rectangular', 'diavolo', got 'diabolo'"),
        ({"bottleneck": 0.0}, ValueError, r"FNNSpec.bottleneck must be in \(0, 1\], got 0.0"),
        ({"bottleneck": "25%"}, TypeError, "FNNSpec.bottleneck must be a number or None, "
                                           "got '25%'"),
        ({"final_width": 300, "width": 256}, ValueError,
         "FNNSpec.final_width must be from 1 to width=256 .*, got 300"),
        ({"final_width": 2.5}, TypeError, "FNNSpec.final_width must be an int or None, got 2.5"),
        ({"layer_form": "conic", "method": "highway"}, ValueError,
         "FNNSpec.layer_form='conic' needs dense blocks, got block='highway'"),
        ({"layer_form": "conic", "method": "resnet"}, ValueError,
         "FNNSpec.layer_form='conic' needs dense blocks, got block='residual'"),
        ({"block_form": "diavolo", "method": "resnet", "branch_layers": 1}, ValueError,
         "FNNSpec.block_form='diavolo' .* got branch_layers=1"),
    ],
)
def test_bad_architecture_fields_name_field_and_value(kwargs, error, match):
    with pytest.raises(error, match=match):
        FNNSpec(in_features=4, out_features=2, **kwargs)


def test_fit_many_stacks_conic_and_diavolo_nets_and_matches_fit(monkeypatch):
    from fnnlab.training import fit, fit_many
    from fnnlab.training.stacked import StackedModel

    stacks = []
    real_init = StackedModel.__init__

    def counting_init(self, members):
        stacks.append(len(members))
        real_init(self, members)

    monkeypatch.setattr(StackedModel, "__init__", counting_init)
    g = torch.Generator().manual_seed(0)
    x, xv = torch.randn(96, 6, generator=g), torch.randn(40, 6, generator=g)
    train, valid = (x, (x[:, 0] > 0).long()), (xv, (xv[:, 0] > 0).long())
    specs = [FNNSpec(6, 2, depth=4, width=32, method="msra", layer_form="conic",
                     final_width=8)] * 2 + \
            [FNNSpec(6, 2, depth=2, width=16, method="resnet", block_form="diavolo",
                     bottleneck=0.25)] * 2
    options = dict(lr=0.01, epochs=2, batch_size=32, optimizer="momentum", progress=False)
    results = fit_many(specs, train, valid, seed=[0, 1, 2, 3], **options)
    assert stacks == [2, 2]  # one stack per architecture, no fallback to fit
    for seed, (spec, result) in enumerate(zip(specs, results, strict=True)):
        torch.manual_seed(seed)
        reference = fit(build(spec), train, valid, seed=seed, **options).model.state_dict()
        for key, value in reference.items():
            # fit_many's own tolerance (tests/training/test_stacked.py); measured 5e-7.
            torch.testing.assert_close(result.model.state_dict()[key], value, rtol=1e-4,
                                       atol=1e-5, msg=key)


def test_every_paper_grid_point_is_a_valid_spec_for_every_preset():
    from fnnlab.bench.grids import FIT_PARAMETERS, PAPER, grid_points, load_grid, method_grid

    grid = load_grid(PAPER)
    for method in METHODS.names():
        points = grid_points(method_grid(grid, method, baseline=False))
        for point in points:
            arch = {k: v for k, v in point.items() if k not in FIT_PARAMETERS}
            FNNSpec(in_features=4, out_features=2, method=method, **arch).layer_widths()
    resnet = grid_points(method_grid(grid, "resnet", baseline=False))
    assert len(resnet) == 5 * 3 * 3 * 2 * 2  # blocks, widths, lr, block form, bottleneck
    highway = grid_points(method_grid(grid, "highway", baseline=False))
    assert {p["gate_bias"] for p in highway} == {-1.0, -2.0, -3.0, -4.0}


def test_build_rejects_a_non_spec():
    with pytest.raises(TypeError, match="FNNSpec"):
        build({"in_features": 3})
