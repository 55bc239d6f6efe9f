//! [`UsbKeyProbe`]: the REAL key seen through libusb (rusb, libusb built from source).
//!
//! Each probe creates its own `rusb::Context`, lists the devices, reads each one's device and
//! configuration descriptors (from the operating system's cache: nothing is sent to the device)
//! and asks the [`KeyMatcher`]. The context is dropped at the end of the probe.
//!
//! What we rely on, and why it is written this way:
//! - **Never rusb's global context.** On a machine without a USB bus (our build and CI machines:
//!   no `/sys/bus/usb`), `rusb::Context::new()` returns an error, and every rusb function that uses
//!   the global context (`rusb::devices()`, `rusb::has_hotplug()`, …) panics. An explicit context
//!   turns that into [`KeyState::Unknown`] ("no USB access: …").
//! - **Polling with a fresh context, no hotplug.** libusb updates a context's device list only from
//!   hotplug events. Which events arrive depends on how libusb was built: with libudev (udev
//!   events) or with its netlink backend (kernel events). A long-lived context under a backend
//!   that receives no event keeps showing the devices of its creation forever, which would report
//!   a key as present after it was pulled out. A new context per probe scans the bus itself and
//!   sees plugs and unplugs whatever the backend, so the watcher polls (see [`super::KeyWatcher`]
//!   for the intervals; measured under umockdev: about 0.9 ms of CPU per probe, 8.6 MB RSS for
//!   `key-status --watch`). The workspace pins the netlink backend
//!   (`LIBUDEV_NO_PKG_CONFIG=1` in `.cargo/config.toml`) so that the build machine having
//!   `libudev-dev` or not changes nothing. Hotplug could later wake the watcher early; it is not
//!   needed for correctness.
//! - **Windows** uses the same code: rusb's vendored libusb uses the WinUSB backend there (untested
//!   on our machines).
//! - **Tests**: `agent/tests/key_usb.rs` runs `sesame-agent key-status` under Debian's umockdev,
//!   which fakes `/sys` and `/dev/bus/usb` for libusb through `LD_PRELOAD`
//!   (`umockdev-run --device FILE -- cmd`); the device files are in `agent/tests/usb/`. libusb
//!   reads descriptors from the sysfs `descriptors` attribute (the `H:` line), and the netlink
//!   backend needs the `/dev/bus/usb` node (the `N:` line). Plugging and unplugging at run time goes
//!   through umockdev's GObject bindings (`agent/tests/usb/plug.py` under `umockdev-wrapper`).

use rusb::UsbContext;

/// Why libusb could not be opened, for the administrator: the cause in words and what to do.
/// Every such reason starts with `no USB access`.
fn no_access(error: &rusb::Error) -> String {
    if cfg!(target_os = "linux") && !std::path::Path::new("/sys/bus/usb").exists() {
        return "no USB access: this computer shows no USB bus (a virtual machine or a container \
                without USB?); the agent cannot see the key, so people confirm by hand that it is \
                unplugged"
            .to_owned();
    }
    match error {
        rusb::Error::Access => "no USB access: no permission to read the USB devices; run the \
                                agent service as root, as the packaged service does"
            .to_owned(),
        other => format!(
            "no USB access (libusb: {other}): check that this computer's USB works, then restart \
             the agent service"
        ),
    }
}

use super::{KeyMatcher, KeyProbe, KeyState, UsbId};

/// The REAL key as libusb sees it.
#[derive(Debug, Clone, Default)]
pub struct UsbKeyProbe {
    matcher: KeyMatcher,
}

impl UsbKeyProbe {
    /// A probe recognising keys with `matcher`.
    pub fn new(matcher: KeyMatcher) -> Self {
        UsbKeyProbe { matcher }
    }
}

impl KeyProbe for UsbKeyProbe {
    fn state(&self) -> KeyState {
        let context = match rusb::Context::new() {
            Ok(context) => context,
            Err(e) => return KeyState::Unknown { reason: no_access(&e) },
        };
        let devices = match context.devices() {
            Ok(devices) => devices,
            Err(e) => {
                return KeyState::Unknown {
                    reason: format!(
                        "cannot list the USB devices (libusb: {e}): check that this computer's USB \
                         works, then restart the agent service"
                    ),
                };
            }
        };
        let mut keys = Vec::new();
        let mut unreadable = None;
        for device in devices.iter() {
            match read_device(&device) {
                Ok(seen) if self.matcher.is_key(seen.id, seen.classes.iter().copied()) => {
                    keys.push(seen.name);
                }
                Ok(_) => {}
                Err(e) => {
                    unreadable.get_or_insert_with(|| {
                        format!(
                            "cannot read USB device {} on bus {}: {e}",
                            device.address(),
                            device.bus_number()
                        )
                    });
                }
            }
        }
        keys.sort();
        match (keys.into_iter().next(), unreadable) {
            (Some(device), _) => KeyState::Present { device },
            // A device we could not read might be the key: absence is not proven.
            (None, Some(reason)) => KeyState::Unknown { reason },
            (None, None) => KeyState::Absent,
        }
    }
}

/// What a probe needs of one device.
struct SeenDevice {
    id: UsbId,
    /// The device's class and the class of every interface of every configuration.
    classes: Vec<u8>,
    /// E.g. `08e6:3437 bus 1 port 1-1`.
    name: String,
}

fn read_device<T: UsbContext>(device: &rusb::Device<T>) -> rusb::Result<SeenDevice> {
    let descriptor = device.device_descriptor()?;
    let id = UsbId { vendor: descriptor.vendor_id(), product: descriptor.product_id() };
    let mut classes = vec![descriptor.class_code()];
    for index in 0..descriptor.num_configurations() {
        let config = device.config_descriptor(index)?;
        for interface in config.interfaces() {
            classes.extend(interface.descriptors().map(|alt| alt.class_code()));
        }
    }
    let bus = device.bus_number();
    let name = match device.port_numbers() {
        Ok(ports) if !ports.is_empty() => {
            let path: Vec<String> = ports.iter().map(u8::to_string).collect();
            format!("{id} bus {bus} port {bus}-{}", path.join("."))
        }
        _ => format!("{id} bus {bus} address {}", device.address()),
    };
    Ok(SeenDevice { id, classes, name })
}
