import Hummingbird
import SluiceCore

/// Authenticates every request and stores who it acts as in ``SluiceRequestContext/identity``.
///
/// Runs on every route, channel and API alike. It only *authenticates*: a request without credentials goes on as
/// ``Identity/anonymous``, and each handler decides with ``AccessControl/require(_:feed:identity:)`` which task it
/// needs. For channel paths the `/t/<key>/` segment is read in both positions (`/t/<key>/conda/<feed>/…`, where
/// rattler and libmamba put it, and `/conda/t/<key>/<feed>/…`, where conda puts it); the routes strip it
/// themselves (``ChannelPath``).
///
/// Throws what ``AccessControl/authenticate(_:pathToken:remoteAddress:)`` throws: `.unauthenticated` (401) for bad
/// credentials, `.tooManyRequests` (429) after repeated failures.
public struct AuthenticationMiddleware: RouterMiddleware {
    public typealias Context = SluiceRequestContext

    let access: AccessControl

    /// Creates the middleware over `access`.
    public init(access: AccessControl) {
        self.access = access
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        context.identity = try await access.authenticate(
            request, pathToken: Self.pathToken(request.uri.path), remoteAddress: context.remoteAddress)
        return try await next(request, context)
    }

    /// The conda token of a channel path (`/t/<key>/conda/…` or `/conda/t/<key>/…`), or nil.
    static func pathToken(_ path: String) -> String? {
        guard path.hasPrefix("/t/") || path.hasPrefix("/conda/") else { return nil }
        return try? ChannelPath.parse(path).token
    }
}
