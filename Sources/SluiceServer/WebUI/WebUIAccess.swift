import Foundation
import Hummingbird
import SluiceCore

/// The web UI's one door to security: sign-in, permission checks and the identity API handlers run as. Every page
/// asks here, and through here the same ``AccessControl`` the API uses.
struct WebUIAccess: Sendable {
    let services: SluiceServices

    /// Checks a password sign-in (``AccessControl/signIn(user:password:remoteAddress:)``: rate limited, failures in
    /// the event log) and returns the user's identity.
    /// - Throws: `.unauthenticated` for a wrong name or password, `.tooManyRequests` after too many failures.
    func signIn(user: String, password: String, remoteAddress: String?) async throws(SluiceError) -> Identity {
        try await services.access.signIn(user: user, password: password, remoteAddress: remoteAddress)
    }

    /// Whether `identity` may do `task` on `feed` (nil: a global action).
    func allows(_ task: SecurityTask, feed: String?, identity: Identity) async -> Bool {
        await services.access.allows(task, feed: feed, identity: identity)
    }

    /// Throws when the viewer may not do `task` on `feed`: `.unauthenticated` for an anonymous viewer (a GET then
    /// goes to the sign-in page), `.forbidden` otherwise.
    func require(_ task: SecurityTask, feed: String?, viewer: WebViewer) async throws(SluiceError) {
        try await services.access.require(task, feed: feed, identity: viewer.identity)
    }

    /// Whether the session's user still exists (a deleted user's sessions end).
    func userExists(_ name: String) async -> Bool {
        (try? await services.metadata.user(named: name)) != nil
    }

    /// `context` acting as the viewer, for calling the API's handlers (which check their own tasks).
    func context(_ context: SluiceRequestContext, as viewer: WebViewer) -> SluiceRequestContext {
        var context = context
        context.identity = viewer.identity
        return context
    }
}
