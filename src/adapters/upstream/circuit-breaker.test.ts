import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CircuitBreaker } from "./circuit-breaker.js";

function setup() {
  let now = 0;
  const breaker = new CircuitBreaker({ failureThreshold: 2, coolDownMs: 1_000, now: () => now });
  return { breaker, advance: (ms: number) => void (now += ms) };
}

describe("CircuitBreaker", () => {
  it("opens after consecutive failures only", () => {
    const { breaker } = setup();

    breaker.acquire()?.fail();
    breaker.acquire()?.succeed();
    breaker.acquire()?.fail();
    assert.equal(breaker.state, "closed");
    breaker.acquire()?.fail();

    assert.equal(breaker.state, "open");
    assert.equal(breaker.acquire(), undefined);
  });

  it("lets one trial through after the cool-down, and closes or re-opens on its outcome", () => {
    const { breaker, advance } = setup();
    breaker.acquire()?.fail();
    breaker.acquire()?.fail();
    advance(1_000);

    const trial = breaker.acquire();
    assert.ok(trial);
    assert.equal(breaker.acquire(), undefined);
    trial.fail();
    assert.equal(breaker.state, "open");

    advance(1_000);
    breaker.acquire()?.succeed();
    assert.equal(breaker.state, "closed");
  });

  it("frees the trial slot when the trial is abandoned", () => {
    const { breaker, advance } = setup();
    breaker.acquire()?.fail();
    breaker.acquire()?.fail();
    advance(1_000);

    breaker.acquire()?.abandon();

    assert.equal(breaker.state, "half-open");
    assert.ok(breaker.acquire());
  });

  it("ignores a second settlement of the same ticket", () => {
    const { breaker } = setup();
    const ticket = breaker.acquire();
    ticket?.fail();
    ticket?.fail();

    assert.equal(breaker.state, "closed");
  });
});
