# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""``clusterctrl status``: the facts, read with as little bus traffic as the spec allows, in the official CLI's format.

``collect()`` reads, ``render()`` prints the lines of spec §8.5 exactly as the official CLI
prints them (same keys, order and value formats, the ``ctrl_bus`` trailing space and the
space after ``FW:x.y`` included), ``as_json()`` gives the same facts for ``--json``.

Where the traffic goes, per ClusterCTRL (the official CLI: about 6 SMBus calls per Pi):

* identity, order and MAXPI come from the driver's single 15-byte read (§10.3);
* FW, each ADC channel, the temperature, FANSTATUS, each Pi's power and USB boot state:
  one combined I2C transfer each (command.py), 1 SMBus call instead of 3 or 4;
* ADC channels come from the board's table (§4), not from an ADC_CNT round trip;
* ``u<N>`` is only read on boards with USB boot (§3: GET_USTATUS answers 0xFF elsewhere,
  and the CLI prints no line for 0xFF);
* ``FAN`` (firmware 1.6 only, as the CLI) is 0 without a read on boards without a fan (§4);
* a DA reads EXISTS once (§2) and prints 255 for the Pis of absent ClusterHATs without asking
  (§3: GET_PSTATUS answers 0xFF for them).

A ClusterHAT costs 3 reads (DIR, IN, PUR), the CLI's 7 to 9. Its hub state is polarity-
corrected for every version (§7.3: the CLI inverts it on v3.0).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import CommandError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import (
    ADC_MV_PER_COUNT,
    UNSUPPORTED_SENTINEL,
    Status,
)

NOT_AVAILABLE = 'NA'


@dataclass
class HatStatus:
    """A ClusterHAT's lines (§8.5); ``forced`` is CLUSTERHAT_FORCE, ``led`` None on v3."""

    version_major: int
    version_minor: int
    size: int
    forced: str | None
    uuid: str
    vendor: str
    product_id: str
    is_pi5: bool
    alert: int
    hub: int
    wp: int
    led: int | None
    wplink: int | None
    xra1200p: bool


@dataclass
class PiStatus:
    """One ``p<N>`` line (power: GET_PSTATUS data0, 255 on a DA without the HAT) and its ``u<N>`` line (None: not printed)."""

    number: int
    power: int
    usbboot: int | None = None
    controller: object = None
    slot: int = 0


@dataclass
class ControllerStatus:
    """One ClusterCTRL: its ``ctrl_bus`` entry and its ``ctrl<order>`` line."""

    order: int
    bus: object
    maxpi: int
    type: str
    product: str
    firmware: tuple
    adc: list = field(default_factory=list)  # [(channel, millivolts), ...]
    temperature_raw: int | None = None
    temperature_c: float | None = None
    fan: int | None = None


@dataclass
class ClusterStatus:
    """Everything ``status`` prints."""

    clusterhat: object  # 1, False or the CLUSTERHAT_FORCE text, as the CLI prints it
    maxpi: int
    pirevision: str
    throttled: str
    hat: HatStatus | None
    controllers: list
    pis: list


def _hat_status(board, host, pis) -> HatStatus:
    """DIR (cached by the first-run check), IN (every line but wplink) and PUR (wplink, xra1200p): 3 reads."""
    driver = board.driver
    found = host.hat or {}
    forced = found.get('forced')
    state = driver.read_state()
    pis.extend(PiStatus(board.first + index, int(on), None, board.controller_id, index + 1) for index, on in enumerate(state.power))
    return HatStatus(
        version_major=driver.version[0],
        version_minor=driver.version[1],
        size=driver.maxpi,
        forced=forced,
        uuid=found.get('uuid') or NOT_AVAILABLE,
        vendor=found.get('vendor') or NOT_AVAILABLE,
        product_id=found.get('product_id') or NOT_AVAILABLE,
        is_pi5=host.is_pi5,
        alert=int(state.alert),
        hub=int(state.hub),
        wp=int(state.wp),
        led=None if state.led is None else int(state.led),
        wplink=driver.wp_link(),
        xra1200p=driver.is_xra1200p,
    )


def _power(board, slot) -> int:
    """GET_PSTATUS's data0: 1/0, or 255 for a DA Pi whose ClusterHAT is absent (§3)."""
    if slot in board.absent_slots:
        return UNSUPPORTED_SENTINEL
    try:
        return int(board.driver.power_status(slot))
    except CommandError as exc:
        if exc.command == 'GET_PSTATUS' and exc.status == Status.OK:  # 0xFF: the HAT went away after the boot scan
            return UNSUPPORTED_SENTINEL
        raise


def _controller_status(board, pis) -> ControllerStatus:
    driver, spec = board.driver, board.driver.spec
    entry = ControllerStatus(
        order=board.order, bus=board.bus, maxpi=driver.maxpi, type=driver.type.value, product=driver.type.product, firmware=driver.fw_version
    )
    for channel in spec.adc_channels:
        reading = driver.read_adc(channel.channel)
        entry.adc.append((channel.channel, int(reading.raw * ADC_MV_PER_COUNT[reading.type_code])))
    if spec.has_temperature:
        reading = driver.read_temperature()
        entry.temperature_raw, entry.temperature_c = reading.raw, reading.celsius
    if entry.firmware == (1, 6):  # §8.5: the CLI prints FAN on firmware 1.6 only
        entry.fan = driver.fan_status() if spec.fan != 'none' else 0
    for slot in range(1, driver.maxpi + 1):
        usbboot = int(driver.usbboot_status(slot)) if spec.has_usbboot else None
        pis.append(PiStatus(board.first + slot - 1, _power(board, slot), usbboot, board.controller_id, slot))
    return entry


def collect(cluster, host) -> ClusterStatus:
    """Read every fact ``status`` prints, HAT first, then the controllers by ascending order (§8.3)."""
    hat, controllers, pis = None, [], []
    for board in cluster.boards:
        if board.is_hat:
            hat = _hat_status(board, host, pis)
        else:
            controllers.append(_controller_status(board, pis))
    clusterhat = False if hat is None else (hat.forced or 1)
    return ClusterStatus(clusterhat, cluster.size, host.pirevision, host.throttled, hat, controllers, pis)


def firmware_text(firmware) -> str:
    """The CLI's ``float("major.minor")`` (§8.5): 1.6 prints as 1.6, a minor of 10 as .1."""
    return str(float(f'{firmware[0]}.{firmware[1]}'))


def _controller_line(entry: ControllerStatus) -> str:
    info = ''.join(f' ADC{channel}:{millivolts}mV' for channel, millivolts in entry.adc)
    if entry.temperature_c is not None:
        info += f' T1:{entry.temperature_c:.2f}C'
    if entry.fan is not None:
        info += f' FAN:{entry.fan:08b}'
    return f'ctrl{entry.order}:FW:{firmware_text(entry.firmware)} {info.strip()}'


def _hat_lines(hat: HatStatus, pis) -> list:
    lines = [
        f'hat_version:{hat.version_major}.{hat.version_minor}',
        f'hat_version_major:{hat.version_major}',
        f'hat_version_minor:{hat.version_minor}',
        f'hat_size:{hat.size}',
    ]
    if hat.forced:
        lines += ['hat_uuid:NA', 'hat_vendor:NA', 'hat_pid:NA', f'hat_force:{hat.forced}']
    else:
        lines += [f'hat_uuid:{hat.uuid}', f'hat_vendor:{hat.vendor}', f'hat_product_id:{hat.product_id}']
    lines += [f'is_pi5:{hat.is_pi5}', f'hat_alert:{hat.alert}', f'hat_hub:{hat.hub}', f'hat_wp:{hat.wp}']
    if hat.led is not None:
        lines.append(f'hat_led:{hat.led}')
    lines += [f'hat_wplink:{0 if hat.wplink is None else hat.wplink}', f'hat_xra1200p:{hat.xra1200p}']
    return lines + [f'p{pi.number}:{pi.power}' for pi in pis if pi.controller == 'hat']


def render(status: ClusterStatus) -> list:
    """The lines of ``status`` in the official CLI's order and format (§8.5)."""
    lines = [
        f'clusterhat:{status.clusterhat}',
        f'clusterctrl:{len(status.controllers) or False}',
        f'maxpi:{status.maxpi}',
        f'pirevision:{status.pirevision}',
        f'throttled:{status.throttled}',
    ]
    if status.controllers:
        lines.append('ctrl_bus:' + ''.join(f'{c.order}:{c.bus}:{c.maxpi} ' for c in status.controllers))
    if status.hat is not None:
        lines += _hat_lines(status.hat, status.pis)
    for entry in status.controllers:
        lines.append(_controller_line(entry))
        for pi in status.pis:
            if pi.controller == entry.order:
                lines.append(f'p{pi.number}:{pi.power}')
                if pi.usbboot is not None:
                    lines.append(f'u{pi.number}:{pi.usbboot}')
    return lines


def as_json(status: ClusterStatus) -> dict:
    """The same facts as ``render``, as a JSON-ready dict."""
    hat = None
    if status.hat is not None:
        hat = asdict(status.hat)
        hat['version'] = f'{status.hat.version_major}.{status.hat.version_minor}'
    controllers = []
    for entry in status.controllers:
        item = asdict(entry)
        item['firmware'] = f'{entry.firmware[0]}.{entry.firmware[1]}'
        item['adc'] = [dict(channel=channel, millivolts=millivolts) for channel, millivolts in entry.adc]
        controllers.append(item)
    return dict(
        clusterhat=status.clusterhat,
        clusterctrl=len(status.controllers),
        maxpi=status.maxpi,
        pirevision=status.pirevision,
        throttled=status.throttled,
        ctrl_bus=[dict(order=c.order, bus=c.bus, maxpi=c.maxpi) for c in status.controllers],
        hat=hat,
        controllers=controllers,
        pis={f'p{pi.number}': dict(power=pi.power, usbboot=pi.usbboot, controller=pi.controller, slot=pi.slot) for pi in status.pis},
    )
