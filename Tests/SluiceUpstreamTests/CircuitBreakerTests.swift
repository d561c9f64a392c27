import SluiceCore
import SluiceUpstream
import Synchronization
import Testing

@Suite("CircuitBreaker")
struct CircuitBreakerTests {
    static let failure = SluiceError(.upstreamUnavailable, "http://127.0.0.1:1/linux-64/repodata.json: 500")

    @Test func opensAfterThresholdRejectsFastThenProbes() async throws {
        let clock = ManualClock()
        let breaker = CircuitBreaker(
            name: "anaconda-main", configuration: .init(failureThreshold: 3, coolDown: .seconds(30)),
            now: { clock.now })
        let calls = Locked(0)

        // Two failures: still closed, counted.
        for _ in 0..<2 {
            let error = await sluiceError {
                _ = try await breaker.run { () throws(SluiceError) -> Int in
                    calls.withLock { $0 += 1 }
                    throw Self.failure
                }
            }
            #expect(error?.code == .upstreamUnavailable)
        }
        #expect(await breaker.state == .closed(consecutiveFailures: 2))

        // The third failure opens it.
        _ = await sluiceError {
            _ = try await breaker.run { () throws(SluiceError) -> Int in
                calls.withLock { $0 += 1 }
                throw Self.failure
            }
        }
        guard case .open = await breaker.state else {
            Issue.record("expected open, got \(await breaker.state)")
            return
        }
        #expect(calls.withLock { $0 } == 3)

        // While open: rejected without calling the operation, with a message naming the cool-down.
        clock.advance(by: .seconds(10))
        let rejected = await sluiceError {
            _ = try await breaker.run { () throws(SluiceError) -> Int in
                calls.withLock { $0 += 1 }
                return 1
            }
        }
        #expect(rejected?.code == .upstreamUnavailable)
        #expect(rejected?.message.contains("circuit open") == true)
        #expect(rejected?.message.contains("retrying after 20 s") == true)
        #expect(rejected?.message.contains("anaconda-main") == true)
        #expect(calls.withLock { $0 } == 3)

        // After the cool-down: half-open, one probe goes through; a failed probe opens it again.
        clock.advance(by: .seconds(21))
        #expect(await breaker.state == .halfOpen(probing: false))
        _ = await sluiceError {
            _ = try await breaker.run { () throws(SluiceError) -> Int in
                calls.withLock { $0 += 1 }
                throw Self.failure
            }
        }
        #expect(calls.withLock { $0 } == 4)
        guard case .open = await breaker.state else {
            Issue.record("a failed probe must open the circuit again")
            return
        }

        // Next cool-down: a successful probe closes it.
        clock.advance(by: .seconds(31))
        let value = try await breaker.run { () throws(SluiceError) -> Int in
            calls.withLock { $0 += 1 }
            return 42
        }
        #expect(value == 42)
        #expect(await breaker.state == .closed(consecutiveFailures: 0))
        #expect(calls.withLock { $0 } == 5)
    }

    @Test func onlyOneProbeAtATimeWhenHalfOpen() async throws {
        let clock = ManualClock()
        let breaker = CircuitBreaker(
            name: "upstream", configuration: .init(failureThreshold: 1, coolDown: .seconds(5)), now: { clock.now })
        await breaker.recordFailure("boom")
        clock.advance(by: .seconds(5))
        try await breaker.acquirePermission()  // becomes the probe
        #expect(await breaker.state == .halfOpen(probing: true))
        let second = await sluiceError { try await breaker.acquirePermission() }
        #expect(second?.code == .upstreamUnavailable)
        await breaker.recordSuccess()
        #expect(await breaker.state == .closed(consecutiveFailures: 0))
        try await breaker.acquirePermission()
    }

    @Test func successResetsTheCountAndNonUpstreamErrorsDoNotCount() async throws {
        let breaker = CircuitBreaker(name: "upstream", configuration: .init(failureThreshold: 2))
        await breaker.recordFailure()
        _ = try await breaker.run { () throws(SluiceError) -> Int in 1 }
        #expect(await breaker.state == .closed(consecutiveFailures: 0))

        await breaker.recordFailure()
        // A 404 or a bad request proves the upstream answered: not a failure.
        _ = await sluiceError {
            _ = try await breaker.run { () throws(SluiceError) -> Int in throw SluiceError.notFound("no such file") }
        }
        #expect(await breaker.state == .closed(consecutiveFailures: 0))

        // Timeouts count.
        for _ in 0..<2 {
            _ = await sluiceError {
                _ = try await breaker.run { () throws(SluiceError) -> Int in
                    throw SluiceError(.upstreamTimeout, "slow")
                }
            }
        }
        guard case .open = await breaker.state else {
            Issue.record("two timeouts must open a circuit with threshold 2")
            return
        }
        #expect(await breaker.lastFailureMessage == "slow")
    }

    @Test func defaultsAreFiveFailuresAndThirtySeconds() {
        let configuration = CircuitBreaker.Configuration()
        #expect(configuration.failureThreshold == 5)
        #expect(configuration.coolDown == .seconds(30))
    }
}
