/// Coalesces concurrent executions of the same work: callers that ask for a key while an operation for that key is
/// running wait for that operation and share its result (or its error) instead of starting their own.
///
/// Used so that many concurrent requests for one uncached upstream file cause exactly one upstream download, and
/// one background refresh per repodata subdir. The key is released as soon as the operation finishes, so a later
/// call runs the operation again (results are not cached here; caching is the caller's layer).
///
/// The operation runs in its own task, so a waiting caller that is cancelled does not cancel the shared work that
/// other callers wait for.
///
/// This is the in-process form. A distributed form for several Sluice instances can keep the same `run(key:operation:)`
/// interface by claiming a lease row in the shared database (`INSERT … ON CONFLICT DO NOTHING` with an expiry), running
/// the operation only when the claim succeeds, and otherwise polling until the row is released and reading the result
/// from the shared store; wrapping this actor keeps the in-process coalescing in front of it.
public actor SingleFlight<Key: Hashable & Sendable, Value: Sendable> {
    private struct Flight {
        let id: UInt64
        let task: Task<Value, any Error>
        var waiters: Int
    }

    private var flights: [Key: Flight] = [:]
    private var nextID: UInt64 = 0

    public init() {}

    /// Runs `operation` for `key`, or joins the run already in progress for `key`.
    ///
    /// - Returns: the value the one shared execution produced.
    /// - Throws: the error the shared execution threw; every caller that joined it gets the same error.
    public func run(key: Key, operation: @escaping @Sendable () async throws -> Value) async throws -> Value {
        if var flight = flights[key] {
            flight.waiters += 1
            flights[key] = flight
            return try await flight.task.value
        }
        nextID &+= 1
        let id = nextID
        let task = Task<Value, any Error> { try await operation() }
        flights[key] = Flight(id: id, task: task, waiters: 1)
        let result = await task.result
        if flights[key]?.id == id { flights[key] = nil }
        return try result.get()
    }

    /// Whether an operation for `key` is running now.
    public func isRunning(key: Key) -> Bool { flights[key] != nil }

    /// How many callers share the running operation for `key` (0 when none runs).
    public func callerCount(key: Key) -> Int { flights[key]?.waiters ?? 0 }

    /// How many keys have an operation running now.
    public var runningCount: Int { flights.count }
}
