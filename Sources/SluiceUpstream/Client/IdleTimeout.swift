import Synchronization

/// The moment bytes last arrived, shared between a body reader and its watchdog.
final class ProgressStamp: Sendable {
    private let last = Mutex<ContinuousClock.Instant>(ContinuousClock.now)

    /// Records that bytes arrived now.
    func touch() { last.withLock { $0 = ContinuousClock.now } }

    var lastProgress: ContinuousClock.Instant { last.withLock { $0 } }
}

/// What a child of ``withIdleTimeout(_:_:)`` ended with.
enum IdleOutcome<T: Sendable>: Sendable {
    case finished(T)
    case watchdogStopped
}

/// Thrown by ``withIdleTimeout(_:_:)`` when no progress was recorded for the whole timeout.
struct IdleTimeoutExpired: Error {}

/// Runs `body`, cancelling it and throwing ``IdleTimeoutExpired`` when it makes no progress (no call to
/// ``ProgressStamp/touch()``) for `timeout`. A slow but steady transfer never times out; a stalled one does.
func withIdleTimeout<T: Sendable>(
    _ timeout: Duration,
    _ body: @escaping @Sendable (ProgressStamp) async throws -> T
) async throws -> T {
    let progress = ProgressStamp()
    return try await withThrowingTaskGroup(of: IdleOutcome<T>.self) { group in
        group.addTask { .finished(try await body(progress)) }
        group.addTask {
            while true {
                let deadline = progress.lastProgress + timeout
                if ContinuousClock.now >= deadline { throw IdleTimeoutExpired() }
                do {
                    try await Task.sleep(until: deadline, clock: .continuous)
                } catch {
                    return .watchdogStopped
                }
            }
        }
        defer { group.cancelAll() }
        while let outcome = try await group.next() {
            if case .finished(let value) = outcome { return value }
        }
        throw CancellationError()
    }
}

extension Duration {
    /// This duration as NIO's `TimeAmount` (nanoseconds).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds.multipliedReportingOverflow(by: 1_000_000_000).partialValue + attoseconds / 1_000_000_000
    }
}
