// Every view of the console, one line each, in navigation order (the first is the default).
import alarms from "./alarms.js";
import devices from "./devices.js";
import ev from "./ev.js";
import evaluation from "./evaluation.js";
import live from "./live.js";
import overview from "./overview.js";
import security from "./security.js";

export const VIEWS = [
  live,
  overview,
  alarms,
  devices,
  ev,
  evaluation,
  security,
];
