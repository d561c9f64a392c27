import Foundation
import ServiceLifecycle
import SluiceCore

extension PromotionService {
    /// Refuses to promote noncompliant files into `target`: each candidate is judged under the target feed's
    /// resolved policy with its exceptions (whether or not the target blocks), and any that is noncompliant and not
    /// covered by an exception makes the whole promotion fail.
    /// - Throws: ``ComplianceRefusal`` (409 `noncompliant`, with the reasons and how to request an exception).
    func refuseNoncompliant(_ candidates: [PromotionCandidate], target: Feed) async throws {
        guard let gate = services.complianceGate, !candidates.isEmpty else { return }
        let context = try await gate.context(feed: target.name)
        let refused = candidates.map { context.verdict(for: $0.record, subdir: $0.subdir) }.filter(\.blocks)
        guard !refused.isEmpty else { return }
        throw ComplianceRefusal.promotion(refused, feed: target.name)
    }
}

/// Runs ``ComplianceService/run()`` (exception expiry, advisory polling) while the server runs.
struct ComplianceScheduler: Service {
    let service: ComplianceService?

    func run() async throws {
        guard let service else {
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            await service.run()
        }
    }
}
