// Drives the dashboard in Debian's chromium through playwright-core (pinned in .tools by
// scripts/setup.sh). Usage: node dashboard.mjs URL ARTIFACT_DIR USER PASSWORD WORKER
// Exits 0 when every check passes; prints what failed otherwise.
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const [url, artifacts, user, password, worker] = process.argv.slice(2);
const require = createRequire(path.join(process.env.OTEDAMA_TOOLS, "node_modules", "x.js"));
const { chromium } = require("playwright-core");

fs.mkdirSync(artifacts, { recursive: true });
const profile = fs.mkdtempSync(path.join(artifacts, "profile-"));
// A fresh --user-data-dir: playwright passes the profile directory itself.
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1280, height: 1000 },
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"],
});
const errors = [];
let failed = false;
const check = (ok, what) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failed = true;
};
try {
  const page = await browser.newPage();
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  await page.goto(url, { waitUntil: "load" });
  await page.waitForFunction(() => document.querySelector("#conn").textContent === "live", null, { timeout: 15000 });
  check(true, "dashboard loaded, WebSocket live");

  // The pool chart grows from the WebSocket's hashrate pushes, with a non-zero value.
  const points = async () => Number(await page.getAttribute("#pool-chart", "data-points"));
  await page.waitForFunction(() => Number(document.querySelector("#pool-chart").dataset.points) >= 2, null, { timeout: 30000 });
  const p1 = await points();
  await page.waitForFunction((n) => Number(document.querySelector("#pool-chart").dataset.points) > n, p1, { timeout: 30000 });
  check((await points()) > p1, `pool chart updates live (${p1} -> ${await points()} points)`);
  check(await page.locator("#pool-chart canvas").count() > 0, "pool chart drawn by uPlot");
  await page.waitForFunction(() => /[1-9]/.test(document.querySelector("#cards").textContent), null, { timeout: 30000 });

  // The workers table lists the built-in miner's worker.
  await page.waitForFunction((w) => document.querySelector("#workers tbody").textContent.includes(w), worker, { timeout: 30000 });
  check(true, `workers table lists .${worker}`);
  check(await page.locator("#p2p").isHidden(), "P2P section hidden while P2P is off");

  // Log in, stop, start.
  await page.waitForFunction(() => document.querySelector("#miner-state").dataset.running === "true", null, { timeout: 20000 });
  await page.fill("#login-user", user);
  await page.fill("#login-pass", password);
  await page.click("#login-form button[type=submit]");
  await page.waitForSelector("#control:not([hidden])", { timeout: 10000 });
  check(true, "logged in");
  await page.click("#miner-stop");
  await page.waitForFunction(() => document.querySelector("#miner-state").dataset.running === "false", null, { timeout: 15000 });
  const stopped = await (await fetch(new URL("/api/status", url))).json();
  check(stopped.mining.running === false, "stop: the node's miner stopped");
  await page.click("#miner-start");
  await page.waitForFunction(() => document.querySelector("#miner-state").dataset.running === "true", null, { timeout: 15000 });
  const started = await (await fetch(new URL("/api/status", url))).json();
  check(started.mining.running === true, "start: the node's miner runs again");

  await page.screenshot({ path: path.join(artifacts, "dashboard.png"), fullPage: true });
  // And on a phone-sized screen: nothing wider than the viewport.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `no horizontal overflow at 390 px (${overflow} px)`);
  await page.screenshot({ path: path.join(artifacts, "dashboard-phone.png"), fullPage: true });
  check(errors.length === 0, `no page errors ${errors.length ? JSON.stringify(errors) : ""}`);
} catch (e) {
  console.log("FAIL " + e.message);
  failed = true;
} finally {
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
