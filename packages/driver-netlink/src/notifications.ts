/** Multicast notifications → KernelChange. */
import type { KernelChange } from "@kroute/core";
import {
  NLM_F_APPEND,
  NLM_F_REPLACE,
  RTM_DELADDR,
  RTM_DELLINK,
  RTM_DELNEXTHOP,
  RTM_DELROUTE,
  RTM_DELRULE,
  RTNLGRP_IPV4_IFADDR,
  RTNLGRP_IPV4_ROUTE,
  RTNLGRP_IPV4_RULE,
  RTNLGRP_IPV6_IFADDR,
  RTNLGRP_IPV6_ROUTE,
  RTNLGRP_IPV6_RULE,
  RTNLGRP_LINK,
  RTNLGRP_NEXTHOP,
} from "./codec/constants.ts";
import type { Message } from "./codec/message.ts";
import { messageToAddress, messageToLink } from "./domain/links.ts";
import type { LinkTable } from "./domain/names.ts";
import { messageToNexthop } from "./domain/nexthops.ts";
import { messageToRoute } from "./domain/routes.ts";
import { messageToRule } from "./domain/rules.ts";

export const NOTIFICATION_GROUPS: readonly number[] = [
  RTNLGRP_LINK,
  RTNLGRP_IPV4_IFADDR,
  RTNLGRP_IPV6_IFADDR,
  RTNLGRP_IPV4_ROUTE,
  RTNLGRP_IPV6_ROUTE,
  RTNLGRP_NEXTHOP,
  RTNLGRP_IPV4_RULE,
  RTNLGRP_IPV6_RULE,
];

/** The change a notification reports; keeps `links` current. Undefined for what kroute does not model. */
export function notificationToChange(message: Message, links: LinkTable): KernelChange | undefined {
  const body = message.body;
  switch (body.kind) {
    case "route": {
      const route = messageToRoute(body.route, links);
      if (route === undefined) return undefined;
      if (message.type === RTM_DELROUTE) return { kind: "route", action: "del", route };
      // NLM_F_REPLACE: the route took the place of one at its key (a replace, or a route
      // re-announced as its nexthop object is replaced). An add, an append or a prepend
      // leave the key's other routes in place and carry NLM_F_CREATE without it; an
      // append at a taken key carries NLM_F_APPEND (an IPv4 prepend goes first instead).
      if ((message.flags & NLM_F_REPLACE) !== 0)
        return { kind: "route", action: "new", route, replaced: true };
      return (message.flags & NLM_F_APPEND) === 0
        ? { kind: "route", action: "new", route }
        : { kind: "route", action: "new", route, appended: true };
    }
    case "nexthop": {
      const nexthop = messageToNexthop(body.nexthop, links);
      return nexthop && { kind: "nexthop", action: message.type === RTM_DELNEXTHOP ? "del" : "new", nexthop };
    }
    case "rule": {
      const rule = messageToRule(body.rule);
      return rule && { kind: "rule", action: message.type === RTM_DELRULE ? "del" : "new", rule };
    }
    case "link": {
      const link = messageToLink(body.link);
      if (link === undefined) return undefined;
      const deleted = message.type === RTM_DELLINK;
      // A route notification about a link must name it, so learn the name before anything else.
      if (deleted) links.delete(link.index);
      else links.set(link.index, link.name);
      return { kind: "link", action: deleted ? "del" : "new", link };
    }
    case "address": {
      const address = messageToAddress(body.address, links);
      return address && { kind: "address", action: message.type === RTM_DELADDR ? "del" : "new", address };
    }
    case "error":
    case "done":
    case "other":
      return undefined;
  }
}
