export { Monitor, MonitorError, DOORBELL_MSR, MONITOR_AREA, type ExitEvent, type MonitorOptions, type GuestMode } from './monitor';
export { parseMonitorConfig, MonitorConfigError, DEFAULT_CONFIG, type MonitorConfig } from './config';
export { describeExit, traceLine, dumpVmcs } from './describe';
export { MONITOR_VECTORS } from './controls';
export { formatStats } from './stats';
