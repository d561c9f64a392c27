import Hummingbird
import Logging
import NIOCore

/// The request context of every Sluice route.
public struct SluiceRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Who the request acts as; set by ``AuthenticationMiddleware`` (which runs on every route), `.anonymous` before.
    public var identity: Identity
    /// The client's IP address, when the connection has one (the rate limiting of failed sign-ins is per address).
    public var remoteAddress: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.identity = .anonymous
        self.remoteAddress = source.channel.remoteAddress?.ipAddress
    }

    /// The name the request acts as (``Identity/actorName``: the user, or `api-key:<name>` for feed and system
    /// keys); nil for anonymous requests. Recorded as `uploadedBy`, promotion `user` and in logs.
    public var userName: String? { identity.actorName }

    /// Request bodies are streamed by the upload routes, which enforce their own limit; the default collection limit
    /// applies to JSON bodies only.
    public var maxUploadSize: Int { 1 << 20 }
}
