import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import type { LambdaFailureRecord } from "../../lib/failedEvents";
import type { FailedEventsEnv } from "../../lib/functionSettings";
import { failedEventNotice } from "./failedEventNotice";

/**
 * The failed-events function: EventBridge hands it each failure record Lambda sent the default
 * bus for a function of the stack (the same rule keeps the record in the queue); it sends the
 * jobs topic one message in words.
 */
export async function reportFailedEvent(
    sns: SNSClient,
    settings: FailedEventsEnv,
    event: { readonly detail?: LambdaFailureRecord },
): Promise<{ messageId?: string; subject: string }> {
    const notice = failedEventNotice(event.detail ?? {}, settings.queueUrl);
    const sent = await sns.send(
        new PublishCommand({ TopicArn: settings.topicArn, Subject: notice.subject, Message: notice.body }),
    );
    console.log(JSON.stringify({ subject: notice.subject, messageId: sent.MessageId }));
    return { messageId: sent.MessageId, subject: notice.subject };
}
