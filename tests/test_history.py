import io

import pytest
import torch
from torch import nn

from cir.methods.history import DCKD_SCHEDULE, HistoryModel


def linear(weight=1.0, bias=0.0):
    m = nn.Linear(1, 1)
    with torch.no_grad():
        m.weight.fill_(weight)
        m.bias.fill_(bias)
    return m


def test_toy_schedule_update_steps_by_hand():
    his = HistoryModel(linear(), schedule=[(0, 2), (5, 3)])
    # steps 1..5 use interval 2 (start 0 < t <= 5): 2, 4; steps 6..12 use 3: 6, 9, 12
    assert his.steps_between(1, 12) == [2, 4, 6, 9, 12]
    his.update_steps([(0, 2), (4, 3)])
    # steps 1..4 use 2: 2, 4; steps 5..12 use 3: 6, 9, 12 (step 4 is the last one under interval 2)
    assert his.steps_between(1, 12) == [2, 4, 6, 9, 12]
    assert [his.interval_at(t) for t in (1, 4, 5, 12)] == [2, 2, 3, 3]
    his.update_steps([(0, 4), (3, 1)])
    # steps 1..3 use 4: none; steps 4..6 use 1: 4, 5, 6
    assert his.steps_between(1, 6) == [4, 5, 6]


def test_dckd_schedule_boundaries():
    his = HistoryModel(linear(), schedule=DCKD_SCHEDULE)
    # the public code indexes intervals with (step - 1) // 100000
    assert his.should_update(1000) and his.should_update(100000)
    assert not his.should_update(101000) and his.should_update(102000) and his.should_update(200000)
    assert his.should_update(201000) and not his.should_update(202000) and his.should_update(204000)
    assert not his.should_update(999)
    # 100 updates up to 100k, 50 up to 200k, then multiples of 3000 in (200k, 250k]: 201000..249000 = 17
    assert len(his.steps_between(1, 250000)) == 100 + 50 + 17


def test_ema_arithmetic_on_a_linear():
    student = linear(1.0, 0.0)
    his = HistoryModel(student, alpha=0.1, schedule=[(0, 1)])
    assert his.model.weight.item() == 1.0                               # init="copy"
    with torch.no_grad():
        student.weight.fill_(3.0)
        student.bias.fill_(2.0)
    his.update(student, step=1)
    # w = 0.1 * 1 + 0.9 * 3 = 2.8;  b = 0.1 * 0 + 0.9 * 2 = 1.8
    assert his.model.weight.item() == pytest.approx(2.8)
    assert his.model.bias.item() == pytest.approx(1.8)
    assert his.maybe_update(2, student)
    # w = 0.1 * 2.8 + 0.9 * 3 = 2.98;  b = 0.1 * 1.8 + 0.9 * 2 = 1.98
    assert his.model.weight.item() == pytest.approx(2.98)
    assert his.model.bias.item() == pytest.approx(1.98)
    assert his.num_updates == 2 and his.last_update_step == 2
    assert student.weight.item() == 3.0                                  # the source is untouched


def test_maybe_update_follows_the_schedule():
    student = linear(1.0)
    his = HistoryModel(student, schedule=[(0, 3)])
    with torch.no_grad():
        student.weight.fill_(2.0)
    assert [his.maybe_update(t, student) for t in range(1, 7)] == [False, False, True, False, False, True]
    assert his.num_updates == 2 and his.last_update_step == 6


def test_buffers_are_copied():
    student = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    his = HistoryModel(student)
    student.train()
    student(torch.randn(8, 2))                                           # moves the running stats
    his.update(student)
    assert torch.equal(his.model[1].running_mean, student[1].running_mean)
    assert torch.equal(his.model[1].num_batches_tracked, student[1].num_batches_tracked)


def test_outputs_carry_no_grad_and_params_stay_frozen():
    student = linear(2.0, 1.0)
    his = HistoryModel(student)
    assert not any(p.requires_grad for p in his.model.parameters())
    assert not his.model.training
    x = torch.ones(3, 1, requires_grad=True)
    y = his(x)
    assert not y.requires_grad and y.is_inference()
    assert torch.equal(y, torch.full((3, 1), 3.0))
    his.update(student)
    assert not any(p.requires_grad for p in his.model.parameters())
    assert all(p.requires_grad for p in student.parameters())


def test_state_dict_round_trip():
    student = linear(1.0, 0.5)
    his = HistoryModel(student, schedule=[(0, 2), (10, 5)])
    with torch.no_grad():
        student.weight.fill_(4.0)
    his.maybe_update(2, student)
    his.maybe_update(4, student)
    buffer = io.BytesIO()
    torch.save(his.state_dict(), buffer)
    buffer.seek(0)
    restored = HistoryModel(linear(-7.0, 3.0), schedule=[(0, 2), (10, 5)])
    restored.load_state_dict(torch.load(buffer))
    for a, b in zip(his.model.state_dict().values(), restored.model.state_dict().values()):
        assert torch.equal(a, b)
    assert (restored.num_updates, restored.last_update_step) == (2, 4)
    with pytest.raises(ValueError, match="schedule"):
        HistoryModel(linear(), schedule=[(0, 3)]).load_state_dict(his.state_dict())
    with pytest.raises(ValueError, match="alpha"):
        HistoryModel(linear(), alpha=0.5, schedule=[(0, 2), (10, 5)]).load_state_dict(his.state_dict())


def test_mix_random_init():
    current = linear(1.0, 1.0)
    # with a given random network: 0.1 * 10 + 0.9 * 1 = 1.9;  bias 0.1 * 0 + 0.9 * 1 = 0.9
    his = HistoryModel(current, init="mix_random", random_model=linear(10.0, 0.0))
    assert his.model.weight.item() == pytest.approx(1.9)
    assert his.model.bias.item() == pytest.approx(0.9)
    # re-drawn by reset_parameters, seeded from the generator
    a = HistoryModel(current, init="mix_random", generator=torch.Generator().manual_seed(0))
    b = HistoryModel(current, init="mix_random", generator=torch.Generator().manual_seed(0))
    c = HistoryModel(current, init="mix_random", generator=torch.Generator().manual_seed(1))
    assert torch.equal(a.model.weight, b.model.weight)
    assert not torch.equal(a.model.weight, c.model.weight)
    # nn.Linear(1, 1) draws weights in [-1, 1]: 0.1 * r + 0.9 * 1 lies in [0.8, 1.0] and is not 1
    assert 0.8 <= a.model.weight.item() <= 1.0 and a.model.weight.item() != 1.0
    assert current.weight.item() == 1.0
    state = torch.get_rng_state()
    HistoryModel(current, init="mix_random", generator=torch.Generator().manual_seed(2))
    assert torch.equal(state, torch.get_rng_state())                     # the global RNG is untouched


def test_mix_random_needs_reinitialisable_parameters():
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.gain = nn.Parameter(torch.ones(1))

        def forward(self, x):
            return x * self.gain

    with pytest.raises(ValueError, match="gain"):
        HistoryModel(Scale(), init="mix_random", generator=torch.Generator())
    with pytest.raises(ValueError, match="generator"):
        HistoryModel(linear(), init="mix_random")


def test_schedule_and_argument_errors():
    with pytest.raises(ValueError, match="start at step 0"):
        HistoryModel(linear(), schedule=[(5, 2)])
    with pytest.raises(ValueError, match="increasing"):
        HistoryModel(linear(), schedule=[(0, 2), (0, 3)])
    with pytest.raises(ValueError, match="interval < 1"):
        HistoryModel(linear(), schedule=[(0, 0)])
    with pytest.raises(ValueError, match="alpha=1.5"):
        HistoryModel(linear(), alpha=1.5)
    with pytest.raises(ValueError, match="init='zeros'"):
        HistoryModel(linear(), init="zeros")
    with pytest.raises(ValueError, match="step=0"):
        HistoryModel(linear()).should_update(0)
