// Every view of the console, one line each, in navigation order (the first is the default).
import live from "./live.js";

export const VIEWS = [
  live,
];
